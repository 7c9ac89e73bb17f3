import Crypto
import Foundation
import Logging
import Testing
import TollgateCore
import TollgateTestSupport

/// Bulk revoke and refresh (`AdminService.planBulk`, `revokeGrants`, `refreshGrants`) on every store backend.
@Suite("Bulk actions on grants", .serialized)
struct BulkActionTests {
    /// A core over a fresh store of `backend`: server `files` and `mail` (providers on a closed port), two clients.
    final class Fixture: @unchecked Sendable {
        let backend: StoreBackend
        let store: any TollgateStore
        let tollgate: Tollgate
        var admin: AdminService { tollgate.admin }
        var files: Server!
        var mail: Server!
        var desk: RegisteredClient!
        var cli: RegisteredClient!

        init(_ backend: StoreBackend) async throws {
            self.backend = backend
            store = try await backend.makeStore()
            var quiet = Logger(label: "test.bulk")
            quiet.logLevel = .critical
            let key = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
            tollgate = try await Tollgate(store: store, master: try MasterKey.load(forDatabaseAt: "/nonexistent", environment: ["TOLLGATE_MASTER_KEY": key]),
                                          upstreamTimeout: 1, logger: quiet)
            for slug in ["files", "mail"] {
                let server = try await tollgate.admin.addServer(NewServer(slug: slug, name: slug, upstreamMCPURL: "http://127.0.0.1:9/mcp"))
                _ = try await tollgate.admin.addProvider(serverSlug: slug, NewProvider(
                    kind: .oauth2, authorizationEndpoint: "http://127.0.0.1:9/authorize", tokenEndpoint: "http://127.0.0.1:9/token",
                    revocationEndpoint: "http://127.0.0.1:9/revoke", clientID: "tollgate", authMethod: .none))
                if slug == "files" { files = server } else { mail = server }
            }
            desk = try await tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Desk", redirectURIs: ["http://127.0.0.1:7/cb"]))
            cli = try await tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "CLI", redirectURIs: ["http://127.0.0.1:7/cb"]))
        }

        /// A grant as the OAuth callback creates it.
        @discardableResult
        func grant(_ subject: String, client: RegisteredClient? = nil, server: Server? = nil, refreshToken: Bool = true) async throws -> Int64 {
            let server = server ?? files!
            var registered = client ?? desk!
            if server.id != files.id {
                registered = try await tollgate.tokens.registerClient(serverSlug: server.slug, ClientRegistration(name: "Other", redirectURIs: ["http://127.0.0.1:7/cb"]))
            }
            let now = tollgate.clock.now()
            let pending = PendingAuthorization(
                stateHash: Data(), serverID: server.id, clientID: registered.client.id, redirectURI: "http://127.0.0.1:7/cb", clientState: nil,
                codeChallenge: TokenGenerator.s256Challenge(of: String(repeating: "v", count: 43)), scopes: [],
                resource: "http://127.0.0.1:8080/mcp/\(server.slug)", sealedUpstreamVerifier: Data(), createdAt: now,
                expiresAt: now.addingTimeInterval(600))
            let tokens = UpstreamTokenResponse(accessToken: Secret("upstream-access-\(UUID())"),
                                               refreshToken: refreshToken ? Secret("upstream-refresh-\(UUID())") : nil, expiresIn: 3600)
            return try await tollgate.tokens.completeAuthorization(pending, server: server, upstreamTokens: tokens, subject: subject).grantID
        }

        func state(_ id: Int64) async throws -> GrantState { try await admin.grant(id: id).state }

        func events(_ action: String) async throws -> [AuditEvent] {
            try await admin.audit(limit: 10_000).filter { $0.action == action }
        }

        func close() async {
            await tollgate.shutdown()
            await backend.discard(store)
        }
    }

    func with(_ backend: StoreBackend, _ body: (Fixture) async throws -> Void) async throws {
        let fixture = try await Fixture(backend)
        do { try await body(fixture) } catch { await fixture.close(); throw error }
        await fixture.close()
    }

    @Test(arguments: StoreBackend.all)
    func thePlanCountsExactlyAndChangesNothing(_ backend: StoreBackend) async throws {
        try await with(backend) { f in
            let bob = [try await f.grant("bob"), try await f.grant("bob"), try await f.grant("bob")]
            let others = [try await f.grant("bobby"), try await f.grant("alice")]
            _ = try await f.admin.revokeGrant(id: bob[0])
            let eventsBefore = try await f.admin.audit(limit: 10_000).count
            let plan = try await f.admin.planBulk(.revoke, GrantScope(subject: "bob"), listing: 1)
            #expect(plan.count == 2, "bob's two grants that are not revoked; not bobby's")
            #expect(plan.first.map(\.id) == [bob[1]], "the listing stops at its limit, oldest first")
            let refresh = try await f.admin.planBulk(.refresh, GrantScope(subject: "bob"), listing: 10)
            #expect(refresh.count == 2 && refresh.first.map(\.id) == [bob[1], bob[2]])
            #expect(try await f.admin.audit(limit: 10_000).count == eventsBefore, "planning writes nothing")
            for id in bob.dropFirst() + others { #expect(try await f.state(id) == .active) }
        }
    }

    @Test(arguments: StoreBackend.all)
    func revokingASubjectRevokesExactlyItsGrantsWithAnAuditTrail(_ backend: StoreBackend) async throws {
        try await with(backend) { f in
            let bob = [try await f.grant("bob"), try await f.grant("bob", client: f.cli), try await f.grant("bob", server: f.mail)]
            let others = [try await f.grant("bobby"), try await f.grant("Bob"), try await f.grant("alice")]
            let seen = ProgressLog()
            let result = try await f.admin.revokeGrants(GrantScope(subject: "bob"), concurrency: 2) { seen.append($0) }
            #expect(result.succeeded == 3 && result.failed == 0 && !result.cancelled)
            for id in bob { #expect(try await f.state(id) == .revoked) }
            for id in others { #expect(try await f.state(id) == .active, "grant \(id) is not bob's") }
            #expect(seen.last?.done == 3 && seen.last?.total == 3)
            let revokes = try await f.events("grant.revoke")
            #expect(Set(revokes.compactMap(\.grantID)) == Set(bob), "one grant.revoke event per grant, as a single revoke writes")
            #expect(revokes.allSatisfy { $0.detail.contains("bulk: subject=bob") && $0.actor == "admin" })
            let bulk = try await f.events("grant.bulk-revoke")
            #expect(bulk.map(\.outcome).sorted() == ["ok", "started"])
            #expect(bulk.contains { $0.outcome == "started" && $0.detail == "subject=bob: 3 grant(s) planned" })
            #expect(bulk.contains { $0.outcome == "ok" && $0.detail == "subject=bob: 3 revoked" })
            // Again: nothing left to do.
            let again = try await f.admin.revokeGrants(GrantScope(subject: "bob"))
            #expect(again.succeeded == 0 && again.failed == 0)
        }
    }

    @Test(arguments: StoreBackend.all)
    func clientServerAndStatusCombine(_ backend: StoreBackend) async throws {
        try await with(backend) { f in
            let deskGrants = [try await f.grant("a"), try await f.grant("b")]
            let cliGrant = try await f.grant("c", client: f.cli)
            let mailGrant = try await f.grant("d", server: f.mail)
            let byClient = try await f.admin.revokeGrants(GrantScope(clientID: f.desk.client.id, serverSlug: "files", status: .active))
            #expect(byClient.succeeded == 2)
            for id in deskGrants { #expect(try await f.state(id) == .revoked) }
            #expect(try await f.state(cliGrant) == .active)
            #expect(try await f.state(mailGrant) == .active)
            #expect(try await f.admin.planBulk(.revoke, GrantScope(serverSlug: "files", status: .revoked)).count == 0)
            let byServer = try await f.admin.revokeGrants(GrantScope(serverSlug: "mail"))
            #expect(byServer.succeeded == 1)
            #expect(try await f.state(mailGrant) == .revoked)
            #expect(try await f.state(cliGrant) == .active)
            await #expect(throws: TollgateError.self) { try await f.admin.revokeGrants(GrantScope(status: .active)) }
            await #expect(throws: TollgateError.self) { try await f.admin.planBulk(.revoke, GrantScope(serverSlug: "nope")) }
        }
    }

    @Test(arguments: StoreBackend.all)
    func cancellingMidWayLeavesACountThatMatchesTheStore(_ backend: StoreBackend) async throws {
        try await with(backend) { f in
            var ids: [Int64] = []
            for _ in 0..<30 { ids.append(try await f.grant("carol")) }
            // Cancels the running task itself once 8 grants are done: exactly where the loop next looks.
            let result = try await f.admin.revokeGrants(GrantScope(subject: "carol"), concurrency: 4) { progress in
                if progress.done >= 8 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            #expect(result.cancelled)
            #expect(result.succeeded == 8)
            var revoked = 0
            for id in ids where try await f.state(id) == .revoked { revoked += 1 }
            #expect(revoked == result.succeeded, "every grant counted is revoked, and no other")
            let end = try await f.events("grant.bulk-revoke").first { $0.outcome == "cancelled" }
            #expect(end?.detail == "subject=carol: 8 revoked; cancelled before the end")
            #expect(try await f.admin.planBulk(.revoke, GrantScope(subject: "carol")).count == 22)
        }
    }

    @Test(arguments: StoreBackend.all)
    func bulkRefreshGoesThroughTheCoordinatorAndGroupsWhyItFailed(_ backend: StoreBackend) async throws {
        try await with(backend) { f in
            for _ in 0..<3 { try await f.grant("dave") }
            let noRefreshToken = try await f.grant("dave", refreshToken: false)
            let result = try await f.admin.refreshGrants(GrantScope(subject: "dave"))
            // The provider's token endpoint is a closed port: every refresh is a transient failure, one reason.
            #expect(result.succeeded == 0 && result.failed == 3, "\(result)")
            #expect(result.failures.count == 1 && result.failures.keys.first?.hasPrefix("transient") == true, "\(result.failures)")
            #expect(try await f.admin.grant(id: noRefreshToken).lastRefreshAt == nil, "a grant without a refresh token is not tried")
            #expect(try await f.events("grant.bulk-refresh").contains { $0.outcome == "partial" })
        }
    }
}

/// Progress reports, as a bulk action made them.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [BulkProgress] = []
    func append(_ progress: BulkProgress) { lock.withLock { reports.append(progress) } }
    var last: BulkProgress? { lock.withLock { reports.last } }
}
