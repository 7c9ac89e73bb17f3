import Foundation
import TollgateCore

extension StoreConformance {
    /// Re-seal in batches of 3 over providers, grants and pending authorizations: every sealed value is offered exactly
    /// once with its context, `nil` leaves a value as it is, and a value changed meanwhile is never overwritten.
    public static func resealBatches(_ backend: StoreBackend) async throws {
        try await run("resealBatches", backend) { e, store, other in
            var stored: [SealContext: Data] = [:]
            for slug in ["one", "two"] {
                let (_, provider) = try await Fixture.server(store, slug)
                stored[.providerSecret(provider.id)] = Fixture.providerSecret(provider.id)
            }
            let bare = try await store.createServer(NewServer(slug: "bare", upstreamMCPURL: "https://b.example/mcp"),
                                                    audit: Fixture.audit("server.add"), at: Fixture.t0)
            _ = try await store.createProvider(serverID: bare.id, NewProvider(kind: .oauth2, clientID: "pub", authMethod: .none),
                                               resolved: Fixture.endpoints(), seal: { _ in nil }, audit: Fixture.audit("provider.add"), at: Fixture.t0)
            let server = try await store.server(slug: "one")!
            try await Fixture.createClient(store, "c1", serverID: server.id)
            var grantIDs: [Int64] = []
            for i in 0..<5 {
                let info = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(3600), hasRefreshToken: i % 2 == 0, refreshExpiresAt: nil, scope: nil)
                let id = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "u\(i)", upstream: info)
                grantIDs.append(id)
                let credential = Fixture.credential(id, info)
                stored[.upstreamAccess(id)] = credential.accessToken
                if let refresh = credential.refreshToken { stored[.upstreamRefresh(id)] = refresh }
            }
            for i in 0..<4 {
                let pending = Fixture.pending("reseal-\(i)", serverID: server.id, clientID: "c1")
                try await store.insertPendingAuthorization(pending)
                stored[.pendingVerifier(stateHash: pending.stateHash)] =
                    pending.sealedUpstreamVerifier
            }
            e.equal(stored.count, 14, "sealed values seeded")

            // A grant refreshed while the batch that holds it runs: through the second connection, inside the closure.
            let raced = grantIDs[2]
            let racedInfo = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(7200), hasRefreshToken: true, refreshExpiresAt: nil, scope: nil)
            let refreshed = Fixture.credential(raced, racedInfo, generation: "-refreshed")
            let serializes = backend.serializesWriters
            let refreshTask = Box<Task<Bool, Error>?>(nil)
            let offered = Box<[SealContext: Int]>([:])
            let wrongOld = Box<[String]>([])
            let skipped = Data("state-reseal-1".utf8).base64URLEncodedString()
            let skip: @Sendable (SealContext) -> Bool = { $0.table == "pending_authorizations" && $0.row == skipped }
            let expectedOld = stored
            var cursor: ResealCursor?
            var resealed = 0
            var batches = 0
            repeat {
                let batch = try await store.resealBatch(after: cursor, limit: 3) { old, context in
                    offered.mutate { $0[context, default: 0] += 1 }
                    if expectedOld[context] != old { wrongOld.mutate { $0.append("\(context)") } }
                    if context == .upstreamAccess(raced) && refreshTask.value == nil {
                        let task = Task {
                            try await other.finishRefresh(grantID: raced, owner: "refresher", expectedVersion: 0, result: .refreshed(refreshed, replacingObtainedAt: nil),
                                                          audit: Fixture.audit("upstream.refresh"), at: Fixture.at(10))
                        }
                        refreshTask.value = task
                        if !serializes {
                            // The other connection can commit now: wait for it, so the compare-and-set is what protects it.
                            let done = DispatchSemaphore(value: 0)
                            Task { _ = try? await task.value; done.signal() }
                            if done.wait(timeout: .now() + 30) == .timedOut { throw TollgateError.invalidInput("the concurrent refresh did not finish") }
                        }
                    }
                    if skip(context) { return nil }
                    return old + Data("|resealed".utf8)
                }
                resealed += batch.resealed
                cursor = batch.next
                batches += 1
                // The limit counts rows; a grant's row holds two sealed fields.
                e.expect(batch.resealed <= 3 * 2, "batch \(batches) re-sealed \(batch.resealed) values with limit 3")
            } while cursor != nil && batches < 50
            e.equal(cursor == nil, true, "the re-seal ends")
            e.expect(batches >= 11 / 3, "batches of at most 3 rows over at least 11 rows (\(batches) batches)")
            e.equal(try await refreshTask.value?.value, true, "the concurrent refresh was written")
            e.equal(wrongOld.value, [], "values offered with a stale `old`")
            e.equal(offered.value, stored.mapValues { _ in 1 }, "every sealed value offered exactly once")
            let changedMeanwhile = serializes ? 0 : 2
            e.equal(resealed, 14 - 1 - changedMeanwhile, "values re-sealed (one skipped\(serializes ? "" : ", two changed meanwhile"))")

            for (context, old) in stored {
                let now = try await current(store, context)
                if context.table == "grants" && context.row == String(raced) {
                    let expected = context.field == "upstream_access" ? refreshed.accessToken : refreshed.refreshToken
                    e.equal(now, expected, "\(context): the concurrent refresh is not overwritten")
                } else if skip(context) {
                    e.equal(now, old, "\(context): skipped value left as it was")
                } else {
                    e.equal(now, old + Data("|resealed".utf8), "\(context): re-sealed")
                }
            }
        }
    }

    /// The sealed value a context names, read through the protocol.
    private static func current(_ store: any TollgateStore, _ context: SealContext) async throws -> Data? {
        switch context.table {
        case "providers": return try await store.sealedProviderSecret(providerID: Int64(context.row)!)
        case "grants":
            let credential = try await store.sealedCredential(grantID: Int64(context.row)!)
            return context.field == "upstream_access" ? credential?.accessToken : credential?.refreshToken
        default:
            // Taking it needs its binding: the fixtures bind "browser-<label>" to "state-<label>".
            let hash = Data(base64URLEncoded: context.row)!
            let label = String(decoding: hash, as: UTF8.self).dropFirst("state-".count)
            if case .taken(let pending) = try await store.takePendingAuthorization(stateHash: hash, browserBindingHash: Data("browser-\(label)".utf8)) {
                return pending.sealedUpstreamVerifier
            }
            return nil
        }
    }

    /// Retention: purge deletes exactly what is past its time (tokens and codes past the grace, expired pending
    /// authorizations, old audit events), keeps everything else; a dry run counts the same and deletes nothing; `limit` caps each kind.
    public static func retentionPurge(_ backend: StoreBackend) async throws {
        try await run("retentionPurge", backend) { e, store, _ in
            let (server, _) = try await Fixture.server(store, "files", at: Fixture.at(-100_000))
            try await Fixture.createClient(store, "c1", serverID: server.id, createdAt: Fixture.at(-100_000))
            let now = Fixture.t0
            let grace: TimeInterval = 3600
            let cutoff = now.addingTimeInterval(-grace)
            var rng = SeededGenerator(seed: 0x9E7E)
            var tokens: [Data: Bool] = [:]          // hash → should be purged
            var codes: [Data: Bool] = [:]
            var pendings: [(PendingAuthorization, Bool)] = []
            // Expiry offsets from the grace cutoff: past it (purged) or at/after it (kept).
            let offsets: [TimeInterval] = [-86400, -3600, -1, 0, 1, 1800, 7200]
            for i in 0..<12 {
                let codeExpiry = cutoff.addingTimeInterval(offsets.randomElement(using: &rng)!)
                let grantID = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "u\(i)", codeLabel: "purge-\(i)",
                                                      codeExpiresAt: codeExpiry, at: Fixture.at(-90_000))
                codes[Fixture.code("purge-\(i)", clientID: "c1", expiresAt: codeExpiry).hash] = codeExpiry < cutoff
                for j in 0..<3 {
                    let expiry = cutoff.addingTimeInterval(offsets.randomElement(using: &rng)!)
                    let token = NewToken(hash: Data("purge-\(i)-\(j)".utf8), kind: j == 0 ? .refresh : .access, expiresAt: expiry)
                    try await store.insertTokens(grantID: grantID, clientID: "c1", [token], at: Fixture.at(-90_000))
                    tokens[token.hash] = expiry < cutoff
                }
                // A rotated refresh token is kept until its expiry is past the grace, like any other.
                let old = Data("purge-\(i)-0".utf8)
                let successor = NewToken(hash: Data("purge-\(i)-successor".utf8), kind: .refresh, expiresAt: Fixture.at(86400))
                _ = try await store.rotateRefreshToken(old: old, replacement: successor.hash, newTokens: [successor], grantID: grantID,
                                                       clientID: "c1", at: Fixture.at(-80_000))
                tokens[successor.hash] = false
                let pendingExpiry = now.addingTimeInterval([-7200, -1, 1, 600].randomElement(using: &rng)!)
                let pending = Fixture.pending("purge-\(i)", serverID: server.id, clientID: "c1", createdAt: Fixture.at(-100_000), expiresAt: pendingExpiry)
                try await store.insertPendingAuthorization(pending)
                pendings.append((pending, pendingExpiry < now))
            }
            let auditBefore = Fixture.at(-50_000)
            for i in 0..<20 {
                try await store.appendAudit(Fixture.audit("purge.test", detail: "\(i)"), at: Fixture.at(-60_000 + Double(i) * 1000))
            }
            let auditEvents = try await Fixture.allAudit(store)
            let expected = PurgeCounts(tokens: tokens.values.filter { $0 }.count, codes: codes.values.filter { $0 }.count,
                                       pendingAuthorizations: pendings.filter(\.1).count,
                                       auditEvents: auditEvents.filter { $0.at < auditBefore }.count)
            e.expect(expected.tokens > 2 && expected.codes > 2 && expected.pendingAuthorizations > 2 && expected.auditEvents > 2,
                     "the fixture has more than 2 of each kind to purge: \(expected)")
            e.expect(tokens.values.contains(false) && codes.values.contains(false) && pendings.contains { !$0.1 },
                     "the fixture has rows of each kind to keep")
            let policy = PurgePolicy(tokenGrace: grace, auditBefore: auditBefore)

            func remaining() async throws -> PurgeCounts {
                var counts = PurgeCounts()
                for hash in tokens.keys where try await store.token(hash: hash) != nil { counts.tokens += 1 }
                for hash in codes.keys where try await store.authorizationCode(hash: hash) != nil { counts.codes += 1 }
                for (pending, _) in pendings {
                    // A presentation from another browser finds it without taking it.
                    if try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: Data("elsewhere".utf8)) != .unknown {
                        counts.pendingAuthorizations += 1
                    }
                }
                counts.auditEvents = try await Fixture.allAudit(store).count
                return counts
            }
            let all = try await remaining()
            e.equal(all, PurgeCounts(tokens: tokens.count, codes: codes.count, pendingAuthorizations: pendings.count, auditEvents: auditEvents.count),
                    "everything is there before the purge")

            e.equal(try await store.purge(policy, now: now, limit: 1000, dryRun: true), expected, "dry run counts")
            e.equal(try await remaining(), all, "a dry run deletes nothing")
            let cap = 2
            e.equal(try await store.purge(policy, now: now, limit: cap, dryRun: true),
                    PurgeCounts(tokens: cap, codes: cap, pendingAuthorizations: cap, auditEvents: cap), "dry run with limit 2")

            var total = PurgeCounts()
            var calls = 0
            var previous = all
            repeat {
                let counts = try await store.purge(policy, now: now, limit: cap, dryRun: false)
                calls += 1
                e.expect(counts.tokens <= cap && counts.codes <= cap && counts.pendingAuthorizations <= cap && counts.auditEvents <= cap,
                         "purge call \(calls) over the limit: \(counts)")
                let left = try await remaining()
                e.equal(PurgeCounts(tokens: previous.tokens - left.tokens, codes: previous.codes - left.codes,
                                    pendingAuthorizations: previous.pendingAuthorizations - left.pendingAuthorizations,
                                    auditEvents: previous.auditEvents - left.auditEvents), counts, "purge call \(calls) deleted what it counted")
                previous = left
                total.tokens += counts.tokens
                total.codes += counts.codes
                total.pendingAuthorizations += counts.pendingAuthorizations
                total.auditEvents += counts.auditEvents
                if counts.tokens < cap && counts.codes < cap && counts.pendingAuthorizations < cap && counts.auditEvents < cap { break }
            } while calls < 100
            e.equal(total, expected, "purged in total")
            e.equal(try await store.purge(policy, now: now, limit: 1000, dryRun: false), PurgeCounts(), "nothing left to purge")
            for (hash, purged) in tokens { e.equal(try await store.token(hash: hash) == nil, purged, "token \(String(decoding: hash, as: UTF8.self)) purged") }
            for (hash, purged) in codes { e.equal(try await store.authorizationCode(hash: hash) == nil, purged, "code \(String(decoding: hash, as: UTF8.self)) purged") }
            for (pending, purged) in pendings {
                let found = try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: Data("elsewhere".utf8))
                e.equal(found == .unknown, purged, "pending authorization expiring \(pending.expiresAt.millisecondsSince1970 - now.millisecondsSince1970) ms from now purged")
            }
            let keptAudit = try await Fixture.allAudit(store)
            e.equal(keptAudit.map(\.id), auditEvents.filter { $0.at >= auditBefore }.map(\.id), "audit events kept")
        }
    }

    /// A store closed and opened again keeps its data.
    public static func reopenKeepsData(_ backend: StoreBackend) async throws {
        let expectations = Expectations("reopenKeepsData [\(backend.name)]")
        let e = expectations
        let store = try await backend.makeStore()
        do {
            let (server, provider) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            let id = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "alice")
            try await store.setSetting("public-url", "https://tollgate.example")
            try await store.addEncryptionKey(id: 1, wrapped: Data("k".utf8), audit: nil, at: Fixture.t0)
            let grant = try await store.grant(id: id)
            let audit = try await Fixture.allAudit(store)
            await store.close()
            let reopened = try await backend.secondConnection(to: store)
            e.equal(try await reopened.server(slug: "files"), server, "server after reopening")
            e.equal(try await reopened.provider(serverID: server.id), provider, "provider after reopening")
            e.equal(try await reopened.grant(id: id), grant, "grant after reopening")
            e.equal(try await reopened.setting("public-url"), "https://tollgate.example", "setting after reopening")
            e.equal(try await reopened.encryptionKeys().map(\.id), [1], "keys after reopening")
            e.equal(try await Fixture.allAudit(reopened).map(\.id), audit.map(\.id), "audit after reopening")
            await reopened.close()
        } catch {
            await backend.discard(store)
            throw error
        }
        await backend.discard(store)
        try expectations.finish()
    }
}
