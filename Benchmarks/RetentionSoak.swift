import Foundation
import Logging
import TollgateCore
import TollgateServer

/// The retention soak: thousands of refresh-token rotations through ``TokenService`` (as clients would send them),
/// now and then a new user (an authorization code exchanged) and an abandoned authorization (a pending
/// authorization nobody completes), with the retention sweep of `serve` (``BackgroundSweeper/retention(_:auditRetention:logger:)``,
/// small batches) run every sweep interval of the injected clock. The clock moves `clockStep` per rotation,
/// so the day of grace after an expiry passes within the run. Prints the row counts of tokens, codes, pending
/// authorizations and audit events every `reportEvery` rotations and the ratio of the last counts to the first
/// ones after the warm-up (one refresh idle TTL plus the grace, when the first rows become purgeable): flat
/// counts give ratios near 1.
struct RetentionSoak {
    var rotations: Int
    var grants = 20
    var reportEvery = 250
    /// Clock time per rotation.
    var clockStep: TimeInterval = 90
    /// How often the sweep runs, in clock time (serve's default sweep interval).
    var sweepInterval: TimeInterval = 600
    var sweepBatchSize = 50
    /// A new user every this many rotations.
    var newUserEvery = 100
    /// An abandoned authorization every this many rotations (pending authorizations live 10 minutes).
    var abandonEvery = 5
    /// Audit retention of the soak (serve's default is 90 days; a day keeps the soak short).
    var auditRetention: TimeInterval = 86400
    /// The server's token lifetimes: rotated refresh tokens stay until their own expiry plus the grace.
    var accessTokenTTL: TimeInterval = 900
    var refreshTokenIdleTTL: TimeInterval = 7200

    /// The tables counted, with the names printed.
    static let counted: [(table: String, name: String)] = [
        ("tokens", "tokens"), ("authorization_codes", "codes"), ("pending_authorizations", "pending authorizations"),
        ("audit_events", "audit events"),
    ]

    func run(_ backend: BenchBackend) async throws {
        let clock = ManualClock()
        let fixture = try await Fixture(name: "retention", backend: backend, clock: clock, server: NewServer(
            slug: "bench", upstreamMCPURL: "http://127.0.0.1:9/mcp", accessTokenTTL: accessTokenTTL,
            refreshTokenIdleTTL: refreshTokenIdleTTL))
        let tollgate = fixture.tollgate
        var sweeper = BackgroundSweeper.retention(tollgate.admin, auditRetention: auditRetention,
                                                  logger: Logger(label: "bench.retention", factory: { _ in SwiftLogNoOpLogHandler() }))
        sweeper.batchSize = sweepBatchSize
        // Upstream tokens outlive the soak: no rotation needs the (unreachable) provider.
        let upstreamLifetime = Double(rotations) * clockStep * 2 + 86400
        var refreshTokens: [String] = []
        var users = 0
        func newUser() async throws {
            let code = try await fixture.newCode(users, upstreamLifetime: upstreamLifetime)
            users += 1
            refreshTokens.append(try await fixture.exchange(code).refreshToken.value)
        }
        for _ in 0..<grants { try await newUser() }
        let urls = PublicURLs(base: "http://127.0.0.1:8080")
        let warmUp = refreshTokenIdleTTL + AdminService.tokenRetentionGrace
        let started = clock.now()
        var nextSweep = started.addingTimeInterval(sweepInterval)
        var rows: [(rotation: Int, clockHours: Double, counts: [Int])] = []
        var firstAfterWarmUp: Int?
        var sweeps = 0, deleted = 0
        print("  (retention soak: \(rotations) rotations over \(grants)+ grants, clock +\(Int(clockStep)) s each, sweep every "
              + "\(Int(sweepInterval)) s in batches of \(sweepBatchSize), refresh idle TTL \(Int(refreshTokenIdleTTL)) s, "
              + "grace \(Int(AdminService.tokenRetentionGrace)) s, audit retention \(Int(auditRetention)) s)")
        print("  " + ["rotation", "clock h"].map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined()
              + Self.counted.map { $0.name.padding(toLength: 24, withPad: " ", startingAt: 0) }.joined())
        let elapsed = try await seconds {
            for rotation in 0...rotations {
                if rotation % reportEvery == 0 {
                    let counts = try await Self.rowCounts(tollgate.store)
                    let hours = clock.now().timeIntervalSince(started) / 3600
                    rows.append((rotation, hours, counts))
                    if firstAfterWarmUp == nil, clock.now().timeIntervalSince(started) >= warmUp { firstAfterWarmUp = rows.count - 1 }
                    print("  " + [String(rotation), String(format: "%.1f", hours)].map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined()
                          + counts.map { String($0).padding(toLength: 24, withPad: " ", startingAt: 0) }.joined())
                }
                if rotation == rotations { break }
                clock.advance(by: clockStep)
                let index = rotation % refreshTokens.count
                let next = try await tollgate.tokens.refresh(serverSlug: "bench", credentials: fixture.credentials,
                                                             refreshToken: refreshTokens[index], scope: nil)
                refreshTokens[index] = next.refreshToken.value
                if rotation % newUserEvery == newUserEvery - 1 { try await newUser() }
                if rotation % abandonEvery == abandonEvery - 1 { try await abandonAuthorization(fixture, urls: urls) }
                if clock.now() >= nextSweep {
                    deleted += await sweeper.sweep()
                    sweeps += 1
                    nextSweep = clock.now().addingTimeInterval(sweepInterval)
                }
            }
        }
        report("retention: rotations /s (sweeps included)", String(format: "%.0f", Double(rotations) / elapsed))
        report("retention: sweeps / rows deleted", "\(sweeps) / \(deleted)")
        guard let first = firstAfterWarmUp, let last = rows.last else {
            print("  (the soak ended before the warm-up: no ratio; run more rotations)")
            await tollgate.shutdown()
            await fixture.database.remove()
            return
        }
        for (index, kind) in Self.counted.enumerated() {
            let before = rows[first].counts[index], after = last.counts[index]
            let ratio = before == 0 ? (after == 0 ? "1.00×" : "no ratio: none at first") : String(format: "%.2f×", Double(after) / Double(before))
            report("retention: \(kind.name), rotation \(rows[first].rotation) → \(last.rotation)", "\(before) → \(after) (\(ratio))")
        }
        await tollgate.shutdown()
        await fixture.database.remove()
    }

    /// An authorization a user starts (consent given, sent upstream) and never completes.
    private func abandonAuthorization(_ fixture: Fixture, urls: PublicURLs) async throws {
        let request = AuthorizationRequest(
            responseType: "code", clientID: fixture.client.client.id, redirectURI: "http://127.0.0.1:1/cb", scope: nil,
            state: "s", codeChallenge: TokenGenerator.s256Challenge(of: fixture.verifier), codeChallengeMethod: "S256",
            resource: nil)
        let validated = try await fixture.tollgate.tokens.validateAuthorization(serverSlug: "bench", request, urls: urls)
        _ = try await fixture.tollgate.tokens.startAuthorization(validated, urls: urls, browserBinding: Secret(UUID().uuidString))
    }

    /// The row counts of ``counted``, read from a snapshot of the store.
    static func rowCounts(_ store: any TollgateStore) async throws -> [Int] {
        let snapshot = try await store.openSnapshot()
        var counts: [Int] = []
        do {
            for kind in counted {
                guard let table = StoreTable.all.first(where: { $0.name == kind.table }) else { counts.append(0); continue }
                let keyIndex = table.columns.firstIndex(of: table.key) ?? 0
                var count = 0
                var after: StoreValue?
                while true {
                    let page = try await snapshot.rows(table, after: after, limit: 5000)
                    count += page.count
                    guard page.count == 5000, let last = page.last else { break }
                    after = last[keyIndex]
                }
                counts.append(count)
            }
        } catch {
            await snapshot.close()
            throw error
        }
        await snapshot.close()
        return counts
    }
}
