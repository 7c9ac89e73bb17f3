import ArgumentParser
import TollgateCore

/// `--db PATH`, shared by every command that opens the store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"),
            help: ArgumentHelp("The database file (default: $TOLLGATE_DB, else $XDG_DATA_HOME/tollgate/tollgate.sqlite, else ~/.local/share/tollgate/tollgate.sqlite).",
                               valueName: "path"))
    var explicitPath: String?

    /// The database path to open: `--db`, else the environment-derived default.
    var path: String { explicitPath ?? Tollgate.defaultDatabasePath() }

    func validate() throws {
        if let explicitPath, explicitPath.isEmpty { throw ValidationError("--db must not be empty") }
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
