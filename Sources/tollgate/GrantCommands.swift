import ArgumentParser
import Foundation
import TollgateConsole
import TollgateCore

/// `tollgate grant …`: user × client × server authorizations and their upstream credentials.
struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant", abstract: "Inspect, refresh and revoke grants.",
        subcommands: [List.self, Show.self, Refresh.self, Revoke.self])

    /// `grant list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List grants, paged through the store.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @OptionGroup var filter: GrantFilterOptions

        @Option(help: "Order of the listing.")
        var sort: GrantSort = .newest

        @OptionGroup var paging: PagingOptions

        func run() async throws {
            let query = GrantQuery(serverSlug: filter.server, status: filter.status, clientID: filter.clientID, subject: filter.subject,
                                   sort: sort, limit: paging.limit, after: paging.after)
            let (page, now) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.grants(query), tollgate.clock.now())
            }
            if output.json {
                try Output.json(page.items.map { JSONView.grant($0, now: now) })
            } else {
                Output.table(GrantColumn.all.map(\.header), page.items.map { g in GrantColumn.all.map { $0.cell(g, now: now).text } },
                             empty: "no grants")
            }
            paging.announce(nextCursor: page.nextCursor)
        }
    }

    /// `grant show ID`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a grant: expiries, status, refreshability and history.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The grant id.")
        var id: Int64

        func run() async throws {
            let (detail, now) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.grantDetail(id: id), tollgate.clock.now())
            }
            if output.json {
                try Output.json(JSONView.grantDetail(detail))
                return
            }
            let description = GrantDescription(detail, now: now)
            Output.fields(description.fields.map { ($0.label, $0.value) })
            for section in description.sections {
                print("\n\(section.title):")
                Output.table(section.columns.map(\.header), section.rows.map { $0.map(\.text) }, empty: section.empty)
            }
        }
    }

    /// `grant refresh ID`, or `grant refresh --subject S | --client ID | --server SLUG [--status S] [--yes]`
    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Force an upstream refresh through the same code path the gateway uses.",
            discussion: """
                Exits 1 unless the upstream credential is fresh afterwards. With --subject, --client or --server it \
                refreshes every refreshable grant of that scope (4 at a time): without --yes it prints the plan and \
                changes nothing.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The grant id.")
        var id: Int64?

        @OptionGroup var bulk: BulkOptions

        func validate() throws { try bulk.validate(id: id, command: "refresh") }

        /// The JSON shape of a refresh result (no credential, only its expiry).
        struct ResultView: Encodable {
            var grant: Int64
            var outcome: String
            var refreshed: Bool
            var message: String
            var calledUpstream: Bool
            var retryAfterSeconds: Double?
            var upstreamAccessExpiresAt: Date?
        }

        func run() async throws {
            guard let id else {
                guard let scope = bulk.scope else { return }
                try await BulkRun.run(.refresh, scope, yes: bulk.yes, json: output.json, database: database) { admin, progress in
                    try await admin.refreshGrants(scope, progress: progress)
                }
                return
            }
            let (result, now) = try await CoreSession.run(database) { tollgate in
                (try await tollgate.admin.forceRefresh(grantID: id), tollgate.clock.now())
            }
            let summary = RefreshSummary(result)
            let view = ResultView(grant: id, outcome: summary.outcome, refreshed: summary.refreshed, message: summary.message,
                                  calledUpstream: summary.calledUpstream, retryAfterSeconds: summary.retryAfter,
                                  upstreamAccessExpiresAt: summary.upstreamAccessExpiresAt)
            if output.json {
                try Output.json(view)
            } else if view.refreshed {
                print("grant \(id): \(summary.sentence(now: now))")
            } else {
                print("grant \(id): \(view.outcome)" + (view.retryAfterSeconds.map { " (retry in \(Output.span($0)))" } ?? ""))
            }
            guard view.refreshed else {
                throw CommandFailure("grant \(id) was not refreshed: \(view.outcome): \(view.message)")
            }
        }
    }

    /// `grant revoke ID [--upstream]`, or `grant revoke --subject S | --client ID | --server SLUG [--status S] [--upstream] [--yes]`
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a grant and its proxy tokens.",
            discussion: """
                With --subject (exact), --client or --server it revokes every grant of that scope that is not revoked \
                yet, each through the same path as a single revocation: without --yes it prints the plan (how many, \
                the first \(BulkRun.planListing)) and changes nothing; with --yes it revokes them, shows progress on \
                stderr when it takes long, and prints how many were revoked and why the others were not (exit 1 if any failed).
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The grant id.")
        var id: Int64?

        @OptionGroup var bulk: BulkOptions

        @Flag(help: "First revoke the upstream refresh (or access) token at the provider.")
        var upstream = false

        func validate() throws { try bulk.validate(id: id, command: "revoke") }

        /// The JSON of a single revocation.
        struct RevokedView: Encodable {
            var grant: Int64
            var revoked: Bool
            var note: String?
        }

        func run() async throws {
            guard let id else {
                guard let scope = bulk.scope else { return }
                let revokeUpstream = upstream
                try await BulkRun.run(.revoke, scope, yes: bulk.yes, json: output.json, database: database) { admin, progress in
                    try await admin.revokeGrants(scope, upstream: revokeUpstream, progress: progress)
                }
                return
            }
            let note = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.revokeGrant(id: id, upstream: upstream)
            }
            if output.json {
                try Output.json(RevokedView(grant: id, revoked: true, note: note))
                return
            }
            switch (upstream, note) {
            case (false, let note?): print("grant \(id): \(note)")
            case (true, let note?): print("grant \(id) revoked; upstream: \(Output.singleLine(note))")
            default: print("grant \(id) revoked")
            }
        }
    }
}
