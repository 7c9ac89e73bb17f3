// Tollgate core benchmarks: prints figures of one run side by side.
//
//   swift run -c release TollgateBenchmarks [--quick] [core] [console] [bulk] [retention]   (no section named: all)
//   TollgateBenchmarks bare-proxy --listen PORT --upstream URL   (the gateway benchmark's reference proxy)
//
// Measures access-token validations per second (hash + lookup + decrypt), code exchanges per second,
// refresh_token grants per second, and the latency of fetching a page of 100 grants from stores of
// 10,000 and 1,000,000 grants (keyset paging: the page must cost the same at both sizes); the console against
// the big store; and the retention soak (RetentionSoak.swift: row counts stay flat under rotations and sweeps).
import Foundation
import GRDB
import TollgateCore
import TollgatePostgres
import TollgateSQLite
import TollgateServer

if CommandLine.arguments.dropFirst().first == "bare-proxy" {
    TollgateHTTPServer.runConcurrencyOnEventLoops()
    try await BareProxy.run(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

if CommandLine.arguments.dropFirst().first == consoleMeasureCommand, CommandLine.arguments.count == 4, let size = Int(CommandLine.arguments[3]) {
    try await measureConsole(location: try StoreLocation.parse(CommandLine.arguments[2]).withPassword(file: nil), size: size)
    exit(0)
}

let quick = CommandLine.arguments.contains("--quick")
/// The sections of the run: those named on the command line, else all of them.
let sectionNames = ["core", "console", "bulk", "retention"]
let namedSections = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("--") }
if let unknown = namedSections.first(where: { !sectionNames.contains($0) }) {
    print("unknown section '\(unknown)'; the sections are \(sectionNames.joined(separator: ", "))")
    exit(2)
}
let sections = Set(namedSections.isEmpty ? sectionNames : namedSections)
let bigStore = quick ? 100_000 : 1_000_000


func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Runs `body(0..<rounds)` spread over `tasks` concurrent tasks; returns the seconds it took.
func seconds(concurrently tasks: Int, rounds: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
    try await seconds {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<tasks {
                group.addTask { for i in stride(from: t, to: rounds, by: tasks) { try await body(i) } }
            }
            try await group.waitForAll()
        }
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

/// A core with one server, a provider (never called: upstream tokens stay fresh) and one public client.
struct Fixture {
    let tollgate: Tollgate
    let database: BenchDatabase
    let client: RegisteredClient
    let server: Server
    let verifier = String(repeating: "b", count: 43)

    /// `server` names the server's token lifetimes (default: access tokens live a day); `clock` is the core's.
    init(name: String, backend: BenchBackend, clock: any TollgateClock = SystemClock(),
         server: NewServer = NewServer(slug: "bench", upstreamMCPURL: "http://127.0.0.1:9/mcp", accessTokenTTL: 86400)) async throws {
        database = try await backend.makeDatabase(name)
        tollgate = try await database.open(clock: clock)
        self.server = try await tollgate.admin.addServer(server)
        _ = try await tollgate.admin.addProvider(serverSlug: "bench", NewProvider(
            kind: .oauth2, authorizationEndpoint: "http://127.0.0.1:9/authorize", tokenEndpoint: "http://127.0.0.1:9/token",
            clientID: "bench", authMethod: .none))
        client = try await tollgate.tokens.registerClient(serverSlug: "bench", ClientRegistration(name: "bench", redirectURIs: ["http://127.0.0.1:1/cb"]))
    }

    var credentials: ClientCredentials { ClientCredentials(clientID: client.client.id, secret: nil, method: .none) }

    /// A grant with an unexchanged code; its upstream tokens live `upstreamLifetime` (never refreshed: the
    /// provider is not reachable).
    func newCode(_ i: Int, upstreamLifetime: TimeInterval = 86400) async throws -> String {
        let now = tollgate.clock.now()
        let pending = PendingAuthorization(stateHash: Data(), serverID: server.id, clientID: client.client.id, redirectURI: "http://127.0.0.1:1/cb",
                                           clientState: nil, codeChallenge: TokenGenerator.s256Challenge(of: verifier), scopes: [],
                                           resource: "http://127.0.0.1:8080/mcp/bench", sealedUpstreamVerifier: Data(), createdAt: now,
                                           expiresAt: now.addingTimeInterval(600))
        let upstream = UpstreamTokenResponse(accessToken: Secret("upstream-access-\(i)-" + UUID().uuidString),
                                             refreshToken: Secret("upstream-refresh-\(i)"), expiresIn: upstreamLifetime)
        return try await tollgate.tokens.completeAuthorization(pending, server: server, upstreamTokens: upstream, subject: "user\(i)").code.value
    }

    func exchange(_ code: String) async throws -> TokenPair {
        try await tollgate.tokens.exchangeCode(serverSlug: "bench", credentials: credentials, code: code,
                                         redirectURI: "http://127.0.0.1:1/cb", codeVerifier: verifier)
    }
}

/// Fills a store with `count` grants through the store's own bulk import (the one `tollgate store copy` uses;
/// the page benchmarks need millions quickly), with ids after the store's existing grants.
///
/// The population has the console's worst cases in it: the oldest grants (the first ``farSubjectShare`` of them,
/// the far end of the newest-first order) belong to subjects `corp-N`, every other grant to `userN`; a handful
/// (``markedNeedsReauth``, spread over the ids) are `needs-reauth`; upstream expiries are spread over the next two
/// hours. The upstream token ciphertexts are as long as real sealed tokens (a walk of the table reads them too).
func bulkGrants(_ store: any TollgateStore, serverID: Int64, clientID: String, count: Int) async throws {
    let table = StoreTable.all.first { $0.name == "grants" }!
    let now = Date().millisecondsSince1970
    let firstID = Int64(try await store.countGrants() + 1)
    let sealed = StoreValue.blob(Data(repeating: 0x5A, count: 120))
    var batch: [[StoreValue]] = []
    for i in 0..<count {
        let expiry = now + Int64((i * 7919) % 7200) * 1000
        let subject = i < count / farSubjectShare ? "corp-\(i)" : "user\(i)"
        let values: [String: StoreValue] = [
            "id": .integer(firstID + Int64(i)), "server_id": .integer(serverID), "client_id": .text(clientID),
            "subject": .text(subject), "scopes": .text("files.read"), "resource": .text("http://127.0.0.1:8080/mcp/bench"),
            "state": .text(i % (count / markedNeedsReauth) == 7 ? "needs-reauth" : "active"), "upstream_access": sealed, "upstream_refresh": sealed,
            "upstream_has_refresh": .integer(1), "upstream_access_expires_at": .integer(expiry),
            "proxy_access_expires_at": .integer(now + 3_600_000), "created_at": .integer(now), "updated_at": .integer(now),
            "refresh_failures": .integer(0), "version": .integer(0),
        ]
        batch.append(table.columns.map { values[$0] ?? .null })
        if batch.count == 2000 {
            try await store.importRows(table, batch)
            batch = []
        }
    }
    try await store.importRows(table, batch)
    try await store.finishImport()
}

/// One grant in this many of a ``bulkGrants`` population, the oldest, is a `corp-N` subject's (a fifth: 200,000 of a million).
let farSubjectShare = 5
/// How many grants of a ``bulkGrants`` population are `needs-reauth`.
let markedNeedsReauth = 5

func runCoreBenchmarks(_ backend: BenchBackend) async throws {
    // 1. Code exchanges and refresh grants.
    let fixture = try await Fixture(name: "tokens", backend: backend)
    let exchangeCount = quick ? 500 : 3000
    var codes: [String] = []
    let createTime = try await seconds { for i in 0..<exchangeCount { codes.append(try await fixture.newCode(i)) } }
    report("grant creations (callback: seal + grant + code) /s", String(format: "%.0f", Double(exchangeCount) / createTime))
    var pairs: [TokenPair] = []
    let exchangeTime = try await seconds { for code in codes { pairs.append(try await fixture.exchange(code)) } }
    report("code exchanges /s", String(format: "%.0f", Double(exchangeCount) / exchangeTime))

    // 2. Validations: hash + lookup + decrypt, single task and two concurrent tasks.
    let accessTokens = pairs.map(\.accessToken.value)
    let validationRounds = quick ? 50_000 : 300_000
    let singleTime = try await seconds {
        for i in 0..<validationRounds {
            let v = try await fixture.tollgate.tokens.validate(accessToken: accessTokens[i % accessTokens.count], serverSlug: "bench")
            if case .unusable = v.upstream { fatalError("unexpected state") }
        }
    }
    report("access-token validations /s (1 task)", String(format: "%.0f", Double(validationRounds) / singleTime))
    // Where a validation's time goes (same tokens, same run).
    do {
        let n = quick ? 20_000 : 100_000
        let hashes = accessTokens.map { TokenGenerator.hash($0) }
        let hashTime = await seconds { for i in 0..<n { _ = TokenGenerator.hash(accessTokens[i % accessTokens.count]) } }
        let lookupTime = try await seconds { for i in 0..<n { _ = try await fixture.tollgate.store.tokenContext(hash: hashes[i % hashes.count]) } }
        let context = try await fixture.tollgate.store.tokenContext(hash: hashes[0])!
        let sealed = context.sealed!
        let decryptTime = try await seconds { for _ in 0..<n { _ = try await fixture.tollgate.vault.open(sealed.accessToken, for: .upstreamAccess(context.grant.id)) } }
        if case .sqlite(let path) = fixture.database.location {
        let pool = try DatabasePool(path: path)
        let trivial = try await seconds { for _ in 0..<n { _ = try pool.unsafeReentrantRead { try Int.fetchOne($0.cachedStatement(sql: "SELECT 1")) } } }
        let tokenOnly = try await seconds { for i in 0..<n { _ = try pool.unsafeReentrantRead { try Row.fetchOne($0.cachedStatement(sql: "SELECT grant_id, kind, expires_at FROM tokens WHERE hash = ?"), arguments: [hashes[i % hashes.count]]) } } }
        report("  breakdown: GRDB round trip, SELECT 1 (µs)", String(format: "%.2f", trivial / Double(n) * 1e6))
        report("  breakdown: token row only (µs)", String(format: "%.2f", tokenOnly / Double(n) * 1e6))
        }
        report("  breakdown: SHA-256 of the token (µs)", String(format: "%.2f", hashTime / Double(n) * 1e6))
        report("  breakdown: store lookup, token + grant (µs)", String(format: "%.2f", lookupTime / Double(n) * 1e6))
        report("  breakdown: decrypt upstream access token (µs)", String(format: "%.2f", decryptTime / Double(n) * 1e6))
    }
    for tasks in [2, 64] {
        // 64 tasks: the gateway under load (wrk -c64 in the gateway benchmark), where PostgreSQL coalesces lookups.
        let parallelTime = try await seconds(concurrently: tasks, rounds: validationRounds) { i in
            _ = try await fixture.tollgate.tokens.validate(accessToken: accessTokens[i % accessTokens.count], serverSlug: "bench")
        }
        report("access-token validations /s (\(tasks) tasks)", String(format: "%.0f", Double(validationRounds) / parallelTime))
    }
    if case .postgres(let location) = fixture.database.location {
        // The same lookups through stores that differ only in how many validation statements run at once, in
        // this run: as many as the pool has connections is no coalescing (one statement a lookup, as before).
        let hashes = accessTokens.map { TokenGenerator.hash($0) }
        let lookups = quick ? 20_000 : 100_000
        var rates: [Int: Double] = [:]
        let uncoalesced = PostgresStore.Configuration(location).maxConnections
        for inFlight in [uncoalesced, 1, 2, 4] {
            let store = try await PostgresStore(configuration: PostgresStore.Configuration(location, tokenLookupsInFlight: inFlight))
            _ = try await seconds(concurrently: 64, rounds: 1000) { i in _ = try await store.tokenContext(hash: hashes[i % hashes.count]) }
            let time = try await seconds(concurrently: 64, rounds: lookups) { i in
                guard try await store.tokenContext(hash: hashes[i % hashes.count]) != nil else { fatalError("a token went missing") }
            }
            await store.close()
            rates[inFlight] = Double(lookups) / time
            let label = "\(inFlight) at once (\(inFlight == uncoalesced ? "no coalescing" : "coalesced"))"
            report("  token lookups /s, 64 tasks, \(label)", String(format: "%.0f (%.2fx)", rates[inFlight]!, rates[inFlight]! / rates[uncoalesced]!))
        }
    }

    // 3. refresh_token grants (rotation; upstream fresh so no upstream call).
    var refreshTokens = pairs.map(\.refreshToken.value)
    let refreshRounds = quick ? 1000 : 6000
    let refreshTime = try await seconds {
        for i in 0..<refreshRounds {
            let idx = i % refreshTokens.count
            let next = try await fixture.tollgate.tokens.refresh(serverSlug: "bench", credentials: fixture.credentials,
                                                                 refreshToken: refreshTokens[idx], scope: nil)
            refreshTokens[idx] = next.refreshToken.value
        }
    }
    report("refresh_token grants /s", String(format: "%.0f", Double(refreshRounds) / refreshTime))

    // 4. A page of 100 grants from 10,000 and from 1,000,000.
    func pageLatencies(size: Int, backend: BenchBackend) async throws -> (first: [Double], deep: [Double], filtered: [Double]) {
        let f = try await Fixture(name: "page\(size)", backend: backend)
        let fill = try await seconds { try await bulkGrants(f.tollgate.store, serverID: f.server.id, clientID: f.client.client.id, count: size) }
        print("  (filled \(size) grants in \(String(format: "%.1f", fill)) s)")
        var first: [Double] = [], deep: [Double] = [], filtered: [Double] = []
        let admin = f.tollgate.admin
        _ = try await admin.grants(GrantQuery(limit: 100))
        for i in 0..<200 {
            first.append(try await seconds { _ = try await admin.grants(GrantQuery(limit: 100)) } * 1000)
            let cursor = String(size / 2 - i)
            deep.append(try await seconds { _ = try await admin.grants(GrantQuery(limit: 100, after: cursor)) } * 1000)
            filtered.append(try await seconds { _ = try await admin.grants(GrantQuery(sort: .upstreamExpiry, limit: 100)) } * 1000)
        }
        await f.tollgate.shutdown()
        await f.database.remove()
        return (first, deep, filtered)
    }
    let small = try await pageLatencies(size: 10_000, backend: backend)
    let large = try await pageLatencies(size: bigStore, backend: backend)
    func ms(_ v: Double) -> String { String(format: "%.3f ms", v) }
    report("page of 100 newest, 10k grants (p50 / p99)", "\(ms(percentile(small.first, 0.5))) / \(ms(percentile(small.first, 0.99)))")
    report("page of 100 newest, \(bigStore / 1000)k grants (p50 / p99)", "\(ms(percentile(large.first, 0.5))) / \(ms(percentile(large.first, 0.99)))")
    report("page of 100 mid-table (keyset), 10k (p50)", ms(percentile(small.deep, 0.5)))
    report("page of 100 mid-table (keyset), \(bigStore / 1000)k (p50)", ms(percentile(large.deep, 0.5)))
    report("page of 100 by upstream expiry, 10k (p50)", ms(percentile(small.filtered, 0.5)))
    report("page of 100 by upstream expiry, \(bigStore / 1000)k (p50)", ms(percentile(large.filtered, 0.5)))
    report("ratio page \(bigStore / 1000)k / 10k (p50, newest)", String(format: "%.2f×", percentile(large.first, 0.5) / percentile(small.first, 0.5)))
    report("ratio page \(bigStore / 1000)k / 10k (p50, keyset mid-table)", String(format: "%.2f×", percentile(large.deep, 0.5) / percentile(small.deep, 0.5)))

    await fixture.tollgate.shutdown()
    await fixture.database.remove()
}

print("Tollgate core benchmarks (\(quick ? "quick" : "full") run, \(ProcessInfo.processInfo.activeProcessorCount) cores, "
      + "sections: \(sectionNames.filter(sections.contains).joined(separator: ", ")))")

let backends = BenchBackend.available()
print("stores: " + backends.map(\.name).joined(separator: ", ") + (backends.count == 1 ? " (set \(BenchBackend.postgresVariable) to compare with PostgreSQL)" : ""))
for backend in backends {
    Report.shared.backend = backend.name
    if sections.contains("core") { try await runCoreBenchmarks(backend) }
    // The console against the big store (honours --quick: 100,000 grants instead of 1,000,000).
    if sections.contains("console") { try await runConsoleBenchmark(quick: quick, backend: backend) }
    if sections.contains("bulk") { try await runBulkBenchmark(backend: backend) }
    if sections.contains("retention") { try await RetentionSoak(rotations: quick ? 1500 : 3000).run(backend) }
}
Report.shared.print(backends.map(\.name))
print("targets: validations >= 50000/s; page from 1,000,000 grants <= 5 ms; PostgreSQL gateway >= 0.8x SQLite")


