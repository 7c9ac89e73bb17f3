import ArgumentParser

/// Opens `tollgate console` on the demo's store, exactly as a user would type it.
enum DemoConsole {
    static func run(databasePath: String, readOnly: Bool, theme: String?) async throws {
        var arguments = ["--db", databasePath]
        if readOnly { arguments.append("--read-only") }
        if let theme { arguments += ["--theme", theme] }
        var console = try ConsoleCommand.parse(arguments)
        try await console.run()
    }
}
