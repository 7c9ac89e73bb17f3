import Testing
import TollgateConsole
