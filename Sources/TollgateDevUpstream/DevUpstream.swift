import Hummingbird
import TollgateCore
public enum DevUpstreamPlaceholder {}
