import ArgumentParser
import Foundation
import Synchronization
import TollgateCore

/// `--server SLUG --status STATUS --client ID --subject S`: exact grant conditions, for `grant list` and the bulk
/// `grant revoke` / `grant refresh`.
struct GrantFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only grants of this server.", valueName: "slug"))
    var server: String?

    @Option(help: "Only grants with this status.")
    var status: GrantStatus?

    @Option(name: .customLong("client"), help: ArgumentHelp("Only grants of this client.", valueName: "id"))
    var clientID: String?

    @Option(help: ArgumentHelp("Only grants of exactly this upstream subject ('bob' is not 'bobby').", valueName: "subject"))
    var subject: String?

    /// The conditions as a bulk action's scope.
    var scope: GrantScope { GrantScope(subject: subject, clientID: clientID, serverSlug: server, status: status) }
}

/// `--subject S | --client ID | --server SLUG [--status STATUS] [--yes]`: the exact scope of a bulk
/// `grant revoke` / `grant refresh`, and whether to carry it out or only print the plan.
struct BulkOptions: ParsableArguments {
    @OptionGroup var filter: GrantFilterOptions

    @Flag(help: "Carry the bulk action out; without it the plan is printed and nothing changes.")
    var yes = false

    /// The scope given, or `nil` when no bulk option is (a single grant id then).
    var scope: GrantScope? { filter.scope == GrantScope() ? nil : filter.scope }

    /// Checks that exactly one of a grant id and a bulk scope is given.
    func validate(id: Int64?, command: String) throws {
        switch (id, scope) {
        case (nil, nil):
            throw ValidationError("give a grant id, or --subject, --client or --server for every grant of one")
        case (_?, _?):
            throw ValidationError("give a grant id or --subject/--client/--server/--status, not both")
        case (nil, let scope?) where !scope.isBounded:
            throw ValidationError("--status needs --subject, --client or --server")
        default:
            if id != nil && yes { throw ValidationError("--yes is for bulk \(command)s (--subject, --client, --server)") }
        }
    }
}

/// Runs a bulk action for the CLI: the plan without `--yes`; with it the action, progress on stderr while it
/// takes long, and the summary (exit 1 when any grant failed).
enum BulkRun {
    /// Grants the plan lists before "and N more".
    static let planListing = 20

    /// The JSON of a plan.
    struct PlanView: Encodable {
        var action: String
        var scope: String
        var count: Int
        var grants: [Int64]
        var more: Int
        var changed = false
    }

    /// The JSON of a result (counts and reasons; never a token).
    struct ResultView: Encodable {
        var action: String
        var scope: String
        var succeeded: Int
        var failed: Int
        var failures: [String: Int]
        var notes: [String: Int]
        var cancelled: Bool
    }

    static func run(_ action: BulkAction, _ scope: GrantScope, yes: Bool, json: Bool, database: DatabaseOptions,
                    perform: @escaping @Sendable (AdminService, @escaping @Sendable (BulkProgress) -> Void) async throws -> BulkResult) async throws {
        guard yes else {
            let (plan, now) = try await CoreSession.run(database) { tollgate in
                (try await tollgate.admin.planBulk(action, scope, listing: planListing), tollgate.clock.now())
            }
            printPlan(plan, now: now, json: json)
            return
        }
        let reporter = ProgressReporter(verb: action.pastTense)
        let result = try await CoreSession.run(database) { tollgate in
            try await perform(tollgate.admin) { reporter.report($0) }
        }
        reporter.finish()
        if json {
            try Output.json(ResultView(action: action.rawValue, scope: scope.description, succeeded: result.succeeded,
                                       failed: result.failed, failures: result.failures, notes: result.notes, cancelled: result.cancelled))
        } else {
            print("\(scope): \(result.succeeded) grant(s) \(action.pastTense), \(result.failed) failed")
            for line in result.failureLines { print("  failed: \(Output.singleLine(line))") }
            for line in result.noteLines { print("  note: \(Output.singleLine(line))") }
        }
        if result.failed > 0 {
            throw CommandFailure("\(result.failed) of \(result.succeeded + result.failed) grant(s) were not \(action.pastTense)")
        }
    }

    static func printPlan(_ plan: BulkPlan, now: Date, json: Bool) {
        let more = max(0, plan.count - plan.first.count)
        if json {
            try? Output.json(PlanView(action: plan.action.rawValue, scope: plan.scope.description, count: plan.count,
                                      grants: plan.first.map(\.id), more: more))
            return
        }
        let verb = plan.action == .revoke ? "revoke" : "refresh"
        print("would \(verb) \(plan.count) grant(s) matching \(Output.singleLine(plan.scope.description)):")
        Output.table(["ID", "SERVER", "CLIENT", "SUBJECT", "STATUS"], plan.first.map { g in
            [String(g.id), g.serverSlug, g.clientName, g.subject ?? "unknown", g.status(at: now).rawValue]
        }, empty: "  (none)")
        if more > 0 { print("… and \(more) more") }
        if plan.count > 0 { print("nothing changed; run again with --yes to \(verb) them") }
    }
}

/// Progress of a long bulk action on stderr: a line a second once it has run for a second, none for a quick one.
final class ProgressReporter: Sendable {
    private let verb: String
    private let started = Date()
    private let state = Mutex<(last: Date?, latest: BulkProgress?)>((nil, nil))

    init(verb: String) { self.verb = verb }

    func report(_ progress: BulkProgress) {
        let now = Date()
        let due = state.withLock { s -> Bool in
            s.latest = progress
            guard now.timeIntervalSince(s.last ?? started) >= 1 else { return false }
            s.last = now
            return true
        }
        if due { Output.note("\(verb) \(progress.done) of \(progress.total) (\(progress.failed) failed)…") }
    }

    /// A last line if progress was shown at all.
    func finish() {
        let (shown, latest) = state.withLock { ($0.last != nil, $0.latest) }
        if shown, let latest { Output.note("\(verb) \(latest.done) of \(latest.total) (\(latest.failed) failed)") }
    }
}
