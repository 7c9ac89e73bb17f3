import ArgumentParser
import Foundation
import TollgateConsole
import TollgateCore
import TollgateTerminal

/// `tollgate console`: the admin console, a terminal UI over the same store as every other command.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Browse servers, providers, clients, grants and the audit log; refresh and revoke grants.",
        discussion: """
            Press ? in the console for its keys. Themes are found in $TOLLGATE_THEMES_DIR, ./themes and the \
            package's themes/ folder; NO_COLOR=1 draws with attributes only. Logs never reach the screen: \
            set TOLLGATE_LOG_FILE (and TOLLGATE_LOG_LEVEL) to keep them.
            """)

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("read-only"), help: "Hide and refuse the actions that change data (force refresh, revoke).")
    var readOnly = false

    @Option(help: ArgumentHelp("Colour theme: dark, light, high-contrast, monochrome, or a .theme file (default: $TOLLGATE_THEME, else dark).",
                               valueName: "name"))
    var theme: String?

    func validate() throws {
        if let theme, theme.isEmpty { throw ValidationError("--theme must not be empty") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let library = ThemeLibrary.standard(environment: environment)
        let themeName = theme ?? environment["TOLLGATE_THEME"].flatMap { $0.isEmpty ? nil : $0 } ?? Theme.defaultName
        let startTheme: Theme, themeError: ThemeError?
        do {
            (startTheme, themeError) = (try library.load(themeName), nil)
        } catch {
            (startTheme, themeError) = (.dark, error)
        }
        let tollgate: Tollgate
        do {
            tollgate = try await database.open(logger: CoreSession.logger)
        } catch {
            throw CommandFailure.wrap(error)
        }
        let options = ConsoleOptions(readOnly: readOnly, databaseName: try database.parsedLocation().shortName,
                                     themeNames: library.availableNames())
        let exit: ConsoleExit
        do {
            let inbox = ConsoleInbox()
            let runner = ConsoleRunner(tollgate: tollgate, themes: library, post: inbox.post)
            await runner.startWatching()
            defer { runner.stop() }
            exit = try await CursesTerminal.run(environment: environment, logPath: environment["TOLLGATE_LOG_FILE"]) { terminal in
                inbox.setWaker(terminal.waker)
                let size = terminal.size
                var state = ConsoleState(options: options, now: Date(), columns: size.columns, rows: size.rows, theme: startTheme)
                if let themeError { _ = state.apply(.themeFailed(themeError)) }
                return ConsoleLoop.run(state: &state, terminal: terminal, runner: runner, inbox: inbox)
            }
        } catch {
            await tollgate.shutdown()
            throw CommandFailure(String(describing: error))
        }
        await tollgate.shutdown()
        if case .signal(let number) = exit { throw ExitCode(128 + number) }
    }
}
