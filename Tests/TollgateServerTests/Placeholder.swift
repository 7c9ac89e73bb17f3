import Testing
import TollgateServer
