/// Console module placeholder; see the console issue.
enum TollgateConsoleModule {}
