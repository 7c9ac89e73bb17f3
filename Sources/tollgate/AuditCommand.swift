import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate audit`: who did what, when, to which grant, with what result (newest first).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the audit log, newest first.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("Only events of this grant.", valueName: "id"))
    var grant: Int64?

    @Option(help: ArgumentHelp("Only events of the last DURATION: seconds or 30s/15m/2h/7d.", valueName: "duration"),
            transform: Parse.duration)
    var since: DurationArgument?

    @Option(help: "At most this many events (1-10000).")
    var limit: Int = 100

    @Option(help: ArgumentHelp("Only events older than this event id (the next page).", valueName: "id"))
    var before: Int64?

    @Option(help: ArgumentHelp("Only events of this action, e.g. request.refused or upstream.refresh (repeatable).", valueName: "action"))
    var action: [String] = []

    @Flag(help: "Only refused requests (the same as --action request.refused): why a client was told no.")
    var refusals = false

    @Flag(help: "Only events whose outcome is not ok.")
    var failures = false

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    func run() async throws {
        let (events, now) = try await CoreSession.run(database) { tollgate in
            let now = tollgate.clock.now()
            let from = since.map { now.addingTimeInterval(-TimeInterval($0.seconds)) }
            let actions = action + (refusals ? [RefusalRecorder.action] : [])
            let query = AuditQuery(grantID: grant, actions: actions.isEmpty ? nil : actions, failuresOnly: failures, since: from,
                                   before: before, limit: limit)
            return await (try tollgate.admin.audit(query), now)
        }
        if output.json {
            try Output.json(events)
        } else {
            Self.printTable(events, now: now, empty: "no audit events")
        }
        if events.count == limit, let last = events.last {
            Output.note("next page: --before \(last.id)")
        }
    }

    /// The audit table shared with `grant show`.
    static func printTable(_ events: [AuditEvent], now: Date, empty: String) {
        Output.table(["ID", "TIME", "ACTOR", "ACTION", "GRANT", "OUTCOME", "DETAIL"], events.map { e in
            [String(e.id), "\(e.at.formatted(.iso8601)) (\(Output.relative(e.at, now: now)))", e.actor, e.action,
             e.grantID.map(String.init) ?? "-", e.outcome, e.detail]
        }, empty: empty)
    }
}
