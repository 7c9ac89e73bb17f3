import CNcursesw
import TollgateConsole
enum TollgateTerminalModule {}
