import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate demo`: a self-contained tour — temporary store, local upstream, `serve`, sample grants, console.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a self-contained demo: temporary store, dev upstream, serve, sample grants, then the console.",
        discussion: "Everything listens on 127.0.0.1 only and is removed on exit. While it runs, simulated MCP clients keep calling the gateway: upstream tokens expire and are refreshed, and one user's upstream authorization is revoked at the provider in the first seconds, so their requests start failing (--no-traffic turns this off). With --no-console the demo prints its database path and URLs and runs until interrupted.")

    @Flag(name: .customLong("no-console"), help: "Set everything up, print the database path and URLs, and wait for Ctrl-C.")
    var noConsole = false

    @Flag(name: .customLong("read-only"), help: "Open the console without dangerous actions.")
    var readOnly = false

    @Flag(name: .customLong("no-traffic"), help: "Do not simulate MCP clients calling the gateway while the demo runs.")
    var noTraffic = false

    @Option(help: "Console theme name.")
    var theme: String?

    @Option(name: .customLong("db"), help: ArgumentHelp("Run the demo on this EMPTY PostgreSQL database (postgres://user@host:port/db; password from $PGPASSWORD or --db-password-file) instead of a temporary SQLite file. Its rows stay there when the demo ends.", valueName: "url"))
    var database: String?

    @Option(name: .customLong("db-password-file"), help: ArgumentHelp("PostgreSQL: read the password from this file.", valueName: "path"))
    var passwordFile: String?

    func validate() throws {
        guard let database else { return }
        do {
            guard case .postgres = try StoreLocation.parse(database) else {
                throw ValidationError("demo --db takes a postgres:// URL (the SQLite demo makes its own temporary file)")
            }
        } catch let error as TollgateError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let log: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("demo: \(line)\n".utf8)) }
        let demo: DemoEnvironment
        do {
            let postgres = try database.map { try StoreLocation.parse($0).withPassword(file: passwordFile) }
            demo = try await DemoEnvironment.start(postgres: postgres, log: log)
        } catch {
            throw CommandFailure("the demo could not start: \(error)")
        }
        do {
            try await demo.populate(log: log)
        } catch {
            await demo.stop()
            throw CommandFailure("the demo could not create its grants: \(error)")
        }
        if !noTraffic {
            // While the console is open its log must not reach the screen: the traffic reports only without one.
            let quiet: @Sendable (String) -> Void = { _ in }
            demo.startTraffic(log: noConsole ? log : quiet)
        }
        if noConsole {
            let options = "--db \(demo.location.commandLine)" + (demo.masterKeyFile.map { " --master-key-file \($0)" } ?? "")
            Output.raw(Data("""
                database: \(demo.location)
                tollgate: \(demo.publicURL)
                upstream: \(demo.devURL)
                try: tollgate grant list \(options)
                     tollgate console \(options)
                (Ctrl-C stops the demo and removes its files)

                """.utf8))
            await SignalWait.untilInterrupted()
        } else {
            do {
                try await DemoConsole.run(demo, passwordFile: passwordFile, readOnly: readOnly, theme: theme)
            } catch {
                await demo.stop()
                throw error
            }
        }
        await demo.stop()
    }
}

/// Waits for SIGINT or SIGTERM.
enum SignalWait {
    static func untilInterrupted() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = OnceFlag()
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    if once.set() { continuation.resume() }
                }
                source.resume()
                sources.append(source)
            }
            SignalSources.keep(sources)
        }
    }
}

/// Keeps the signal sources alive for the process's lifetime.
enum SignalSources {
    nonisolated(unsafe) static var retained: [DispatchSourceSignal] = []
    static func keep(_ sources: [DispatchSourceSignal]) { retained += sources }
}

/// A flag that is set exactly once, from any thread.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    /// Sets the flag; true only for the first caller.
    func set() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}
