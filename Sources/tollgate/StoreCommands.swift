import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate store …`: housekeeping of the store itself.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Maintain the store: retention.", subcommands: [Purge.self])

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

/// `store purge --json`.
private struct PurgeReport: Encodable {
    var dryRun: Bool
    var counts: PurgeCounts
}
