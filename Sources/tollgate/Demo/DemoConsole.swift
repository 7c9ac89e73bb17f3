import ArgumentParser

/// Opens `tollgate console` on the demo's store, exactly as a user would type it.
enum DemoConsole {
    static func run(_ demo: DemoEnvironment, passwordFile: String?, readOnly: Bool, theme: String?) async throws {
        var arguments = ["--db", demo.location.commandLine]
        if let passwordFile { arguments += ["--db-password-file", passwordFile] }
        if let keyFile = demo.masterKeyFile { arguments += ["--master-key-file", keyFile] }
        if readOnly { arguments.append("--read-only") }
        if let theme { arguments += ["--theme", theme] }
        let console = try ConsoleCommand.parse(arguments)
        try await console.run()
    }
}
