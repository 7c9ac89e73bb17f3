import ArgumentParser
import Foundation
import TollgateCore
import TollgateServer

/// The `tollgate` command: OAuth 2.1 in front of MCP servers, administered over one shared store.
///
/// Exit codes: 0 ok, 1 failure (one line `tollgate: error: …` on stderr), 2 usage error.
@main
struct TollgateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate",
        abstract: "OAuth 2.1 in front of MCP servers whose tools need a user's upstream credentials.",
        discussion: "Exit codes: 0 ok, 1 failure, 2 usage error.",
        version: TollgateCoreVersion.string,
        subcommands: [
            ServerCommand.self, ProviderCommand.self, ClientCommand.self, GrantCommand.self,
            WellKnownCommand.self, KeysCommand.self, StoreCommand.self, AuditCommand.self, DevUpstreamCommand.self, ServeCommand.self, ConsoleCommand.self, DemoCommand.self,
        ])

    /// Exit code of usage errors (argument-parser's own default would be 64).
    static let usageExitCode: Int32 = 2

    /// Parses, runs and exits with the documented codes (0 ok, 1 failure, 2 usage error) instead of argument-parser's defaults.
    static func main() async {
        let parsed: any ParsableCommand
        do {
            parsed = try await asyncParseAsRoot()
        } catch {
            exit(for: error, in: self)
        }
        if parsed is ServeCommand, ProcessInfo.processInfo.environment["TOLLGATE_CONCURRENCY_POOL"] == nil {
            // serve's tasks run on NIO's event loops (no thread hop per step); TOLLGATE_CONCURRENCY_POOL=1
            // keeps Swift's default pool, for comparison.
            TollgateHTTPServer.runConcurrencyOnEventLoops()
        }
        var command = parsed
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(for: error, in: type(of: parsed))
        }
        Foundation.exit(0)
    }

    /// Exits for `error`: help and version requests exit 0 with their text on stdout; parse and validation
    /// errors print argument-parser's message (with usage) on stderr and exit 2; every other failure prints
    /// one line `tollgate: error: …` on stderr and exits 1.
    private static func exit(for error: any Error, in command: any ParsableCommand.Type) -> Never {
        if let explicit = error as? ExitCode { Foundation.exit(explicit.rawValue) }
        if !(error is CommandFailure || error is TollgateError || error is UpstreamError) {
            switch command.exitCode(for: error) {
            case .success:
                let message = command.fullMessage(for: error)
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            case .validationFailure:
                Output.stderr(command.fullMessage(for: error))
                Foundation.exit(usageExitCode)
            default:
                break
            }
        }
        let message = (CommandFailure.wrap(error) as? CommandFailure)?.message ?? Output.singleLine(String(describing: error))
        Output.note("tollgate: error: \(message)")
        Foundation.exit(1)
    }
}
