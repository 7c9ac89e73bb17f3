import ArgumentParser
import Foundation
import Logging
import TollgateCore
import TollgateStores

/// `--db PATH|URL`, `--db-password-file` and `--master-key-file`, shared by every command that opens the store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"),
            help: ArgumentHelp("The database: a SQLite file path (or sqlite:PATH), or postgres://user@host:port/db?sslmode=prefer|disable|require|verify-full (default: $TOLLGATE_DB, else $XDG_DATA_HOME/tollgate/tollgate.sqlite, else ~/.local/share/tollgate/tollgate.sqlite).",
                               valueName: "path|url"))
    var explicitDatabase: String?

    @Option(name: .customLong("db-password-file"),
            help: ArgumentHelp("PostgreSQL: read the password from the first line of this file (else $PGPASSWORD). Never put it in the URL.",
                               valueName: "path"))
    var passwordFile: String?

    @Option(name: .customLong("master-key-file"),
            help: ArgumentHelp("The master key file (base64 of 32 bytes; else $TOLLGATE_MASTER_KEY; SQLite only: else the key file beside the database). Every instance on one PostgreSQL database needs the same key.",
                               valueName: "path"))
    var masterKeyFile: String?

    @Flag(name: .customLong("create"),
          help: "SQLite: create the store (and its key file) when there is none at --db, instead of refusing. `tollgate store init` does the same on purpose.")
    var create = false

    /// The `--db` text: the option, else the environment-derived default.
    var text: String { explicitDatabase ?? Tollgate.defaultDatabasePath() }

    /// Where the store lives, as `--db` names it, without its password (for validation and for naming it).
    func parsedLocation() throws -> StoreLocation {
        do {
            return try StoreLocation.parse(text)
        } catch let error as TollgateError {
            throw ValidationError(error.message)
        }
    }

    func validate() throws {
        if let explicitDatabase, explicitDatabase.isEmpty { throw ValidationError("--db must not be empty") }
        if let passwordFile, passwordFile.isEmpty { throw ValidationError("--db-password-file must not be empty") }
        if let masterKeyFile, masterKeyFile.isEmpty { throw ValidationError("--master-key-file must not be empty") }
        _ = try parsedLocation()
    }

    /// Opens the core over this store.
    /// The password (`--db-password-file`, else `PGPASSWORD`) is read here, once.
    ///
    /// A SQLite store is created only on purpose: with `--create`, or `creating` (`tollgate store init`). Else a
    /// path with nothing at it is refused before anything is made there, so a mistyped `--db` never starts an
    /// empty store with a new master key. A PostgreSQL database is migrated when empty, as always: it exists
    /// because someone created it.
    func open(upstreamTimeout: TimeInterval = 10, logger: Logger, refreshObserver: RefreshObserver? = nil,
              clientMetadataAllowLoopback: Bool = false, creating: Bool = false) async throws -> Tollgate {
        let location: StoreLocation
        do {
            location = try parsedLocation().withPassword(file: passwordFile)
        } catch let error as TollgateError {
            throw ValidationError(error.message)
        }
        if !(create || creating), let missing = Self.missingStore(location, hint: true) { throw missing }
        return try await Tollgate.open(location, masterKeyFile: masterKeyFile, upstreamTimeout: upstreamTimeout, logger: logger,
                                       refreshObserver: refreshObserver, clientMetadataAllowLoopback: clientMetadataAllowLoopback)
    }
}

extension DatabaseOptions {
    /// Whether anything at all (a symbolic link included, which opening then refuses by name) is at `path`.
    /// Only a path that is certainly empty counts as missing; any other failure is left to the open to report.
    static func somethingExists(at path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 || (errno != ENOENT && errno != ENOTDIR)
    }

    /// The failure for a SQLite `location` with no file at its path, or nil (a file is there, or PostgreSQL).
    /// `hint` adds how to create one (for commands that take `--create`).
    static func missingStore(_ location: StoreLocation, hint: Bool) -> CommandFailure? {
        guard case .sqlite(let path) = location, !somethingExists(at: path) else { return nil }
        return CommandFailure("no store at \(path)" + (hint ? "; create one with `tollgate store init --db \(path)` (or pass --create)" : ""))
    }
}

/// `--json`, shared by every listing and show command.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON (sorted keys, ISO-8601 dates) instead of text. Never contains tokens or secrets.")
    var json = false
}

/// `--limit N` and `--after CURSOR` for keyset-paged listings.
struct PagingOptions: ParsableArguments {
    @Option(help: "At most this many rows (1-10000).")
    var limit: Int = 100

    @Option(help: ArgumentHelp("Continue after this cursor (printed as 'next page: --after CURSOR').", valueName: "cursor"))
    var after: String?

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
        if let after, after.isEmpty { throw ValidationError("--after must not be empty") }
    }

    /// Prints the hint for the next page to stderr, when there is one.
    func announce(nextCursor: String?) {
        if let nextCursor { Output.note("next page: --after \(nextCursor)") }
    }
}
