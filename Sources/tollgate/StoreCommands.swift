import ArgumentParser
import Foundation
import TollgateCore
import TollgateStores

/// `tollgate store …`: housekeeping of the store itself.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Create and maintain the store: a new one, retention, moving a deployment.",
        subcommands: [Init.self, Purge.self, Copy.self])

    /// `tollgate store init`
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new, empty store: a SQLite file and the master key file beside it (both 0600).",
            discussion: """
                Every other command refuses a SQLite path with nothing at it (unless given --create), so a mistyped --db                 never starts an empty store with a new key. init refuses a path where something already is. With                 --master-key-file or $TOLLGATE_MASTER_KEY that key is used and no key file is written. A PostgreSQL                 database is created by its administrator: init migrates it (as every command does when it is empty).
                """)

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let location = try database.parsedLocation()
            if case .sqlite(let path) = location, DatabaseOptions.somethingExists(at: path) {
                throw CommandFailure("there is already a store at \(path); store init only creates new ones")
            }
            try await CoreSession.run(database, creating: true) { _ in }
            guard case .sqlite(let path) = location else {
                print("store ready at \(location.commandLine)")
                return
            }
            let keyFile = MasterKey.keyFilePath(forDatabaseAt: path)
            let ownKey = database.masterKeyFile == nil && (ProcessInfo.processInfo.environment[MasterKey.environmentVariable] ?? "").isEmpty
            print("created store at \(path)" + (ownKey ? " (master key in \(keyFile): back it up apart from the database)" : ""))
        }
    }

    /// `tollgate store purge [--dry-run]`
    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete what retention lets go: proxy tokens and codes a day past expiry, expired pending authorizations, audit events older than --audit-retention.",
            discussion: "serve does the same in the background, in small batches. With --dry-run nothing is deleted: the counts say what would go.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Flag(name: .customLong("dry-run"), help: "Only count what would be deleted.")
        var dryRun = false

        @Option(name: .customLong("audit-retention"), help: ArgumentHelp("Keep audit events this long (default 90d).", valueName: "duration"),
                transform: Parse.duration)
        var auditRetention = DurationArgument(seconds: Int(AdminService.defaultAuditRetention))

        func run() async throws {
            let counts = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.purge(auditRetention: TimeInterval(auditRetention.seconds), dryRun: dryRun)
            }
            if output.json {
                try Output.json(PurgeReport(dryRun: dryRun, counts: counts))
                return
            }
            Output.table(["kind", dryRun ? "would delete" : "deleted"], [
                ["proxy tokens", String(counts.tokens)],
                ["authorization codes", String(counts.codes)],
                ["pending authorizations", String(counts.pendingAuthorizations)],
                ["audit events", String(counts.auditEvents)],
            ], empty: "")
        }
    }
}

extension StoreCommand {
    /// `tollgate store copy --from SRC --to DST`
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a whole store into a new, empty database (e.g. a SQLite deployment into PostgreSQL).",
            discussion: """
                Reads one consistent snapshot of the source (its serve may keep running; what it writes after the snapshot                 is not copied, so stop it for the final copy before switching over), keeps every id, and re-wraps the data                 keys under the destination's master key when it differs. Every client keeps its registration and every                 grant its tokens. The source key: --from-master-key-file, else the key file beside a SQLite source, else                 $TOLLGATE_MASTER_KEY. The destination key: --to-master-key-file, else $TOLLGATE_MASTER_KEY, else (SQLite)                 the key file beside it, created. Passwords: --from/--to-password-file, else $PGPASSWORD.
                """)

        @Option(help: ArgumentHelp("The store to copy: a SQLite path or a postgres:// URL.", valueName: "path|url"))
        var from: String

        @Option(help: ArgumentHelp("The empty store to copy into: a postgres:// URL or a SQLite path.", valueName: "url|path"))
        var to: String

        @Option(name: .customLong("from-password-file"), help: ArgumentHelp("PostgreSQL source: its password file.", valueName: "path"))
        var fromPasswordFile: String?

        @Option(name: .customLong("to-password-file"), help: ArgumentHelp("PostgreSQL destination: its password file.", valueName: "path"))
        var toPasswordFile: String?

        @Option(name: .customLong("from-master-key-file"), help: ArgumentHelp("The source's master key file.", valueName: "path"))
        var fromMasterKeyFile: String?

        @Option(name: .customLong("to-master-key-file"), help: ArgumentHelp("The destination's master key file.", valueName: "path"))
        var toMasterKeyFile: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let source: StoreLocation, destination: StoreLocation
            do {
                source = try StoreLocation.parse(from).withPassword(file: fromPasswordFile)
                destination = try StoreLocation.parse(to).withPassword(file: toPasswordFile)
            } catch let error as TollgateError {
                throw ValidationError(error.message)
            }
            guard source != destination else { throw ValidationError("--from and --to name the same store") }
            let environment = ProcessInfo.processInfo.environment
            let report: StoreCopyReport
            // A mistyped source would otherwise be created empty (and a key file beside it) and copied as such.
            if let missing = DatabaseOptions.missingStore(source, hint: false) { throw missing }
            do {
                // The source's own key file wins over the environment, which is usually the destination's key.
                var sourceEnvironment = environment
                if case .sqlite(let path) = source, FileManager.default.fileExists(atPath: MasterKey.keyFilePath(forDatabaseAt: path)) {
                    sourceEnvironment[MasterKey.environmentVariable] = nil
                }
                let sourceKey = try MasterKey.load(for: source, keyFile: fromMasterKeyFile, environment: sourceEnvironment)
                let destinationKey = try MasterKey.load(for: destination, keyFile: toMasterKeyFile, environment: environment)
                let from = try await StoreOpener.open(source, logger: CoreSession.logger)
                let into: any TollgateStore
                do {
                    into = try await StoreOpener.open(destination, logger: CoreSession.logger)
                } catch {
                    await from.close()
                    throw error
                }
                let copied = await Result(catching: { try await StoreCopier().copy(from: from, sourceKey: sourceKey, to: into, destinationKey: destinationKey) })
                await from.close()
                await into.close()
                report = try copied.get()
            } catch {
                throw CommandFailure.wrap(error)
            }
            if output.json {
                try Output.json(report)
                return
            }
            Output.table(["table", "rows copied"], StoreTable.all.map { [$0.name, String(report.rows[$0.name] ?? 0)] }, empty: "")
            print("copied \(source) -> \(destination)\(report.rewrapped ? "; data keys re-wrapped under the destination's master key" : "")")
        }
    }
}

/// `store purge --json`.
private struct PurgeReport: Encodable {
    var dryRun: Bool
    var counts: PurgeCounts
}
