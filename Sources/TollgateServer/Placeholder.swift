import Hummingbird
import TollgateCore
enum TollgateServerModule {}
