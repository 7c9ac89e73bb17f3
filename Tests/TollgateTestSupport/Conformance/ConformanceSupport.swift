import Foundation
import TollgateCore

/// A conformance check that did not hold: every failed expectation of one check, one per line.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let check: String
    public let failures: [String]
    public var description: String {
        "\(check): \(failures.count) failed expectation(s)\n" + failures.prefix(40).joined(separator: "\n")
            + (failures.count > 40 ? "\n… \(failures.count - 40) more" : "")
    }
}

/// Collects the failed expectations of one check; ``finish()`` throws them together.
public final class Expectations: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []
    let check: String

    init(_ check: String) { self.check = check }

    /// Records a failure unless `condition` holds.
    func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { record(message()) }
    }

    /// Records a failure unless `actual == expected`.
    func equal<T: Equatable>(_ actual: T, _ expected: T, _ what: @autoclosure () -> String) {
        if actual != expected { record("\(what()): got \(actual), expected \(expected)") }
    }

    /// Records a failure unless `body` throws a ``TollgateError`` with `code`.
    func throwsCode<T>(_ code: TollgateError.Code, _ what: String, _ body: () async throws -> T) async {
        do {
            _ = try await body()
            record("\(what): no error, expected .\(code)")
        } catch let error as TollgateError {
            if error.code != code { record("\(what): .\(error.code) (\(error.message)), expected .\(code)") }
        } catch {
            record("\(what): \(error), expected TollgateError .\(code)")
        }
    }

    func record(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        failures.append(message)
    }

    var failureCount: Int {
        lock.lock(); defer { lock.unlock() }
        return failures.count
    }

    func finish() throws {
        lock.lock(); defer { lock.unlock() }
        if !failures.isEmpty { throw ConformanceFailure(check: check, failures: failures) }
    }
}

/// A small deterministic generator (SplitMix64): the same seed gives the same run (fuzz inputs, conformance data).
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Building blocks of the checks: entities created through the protocol only, with whole-millisecond times.
enum Fixture {
    /// The checks' "now": a whole second, so every derived time is stored exactly.
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    static func audit(_ action: String, detail: String = "") -> NewAuditEvent {
        NewAuditEvent(actor: "conformance", action: action, detail: detail)
    }

    static func endpoints(supportsRefresh: Bool = true) -> ResolvedEndpoints {
        ResolvedEndpoints(issuer: "https://idp.example", authorizationEndpoint: "https://idp.example/authorize",
                          tokenEndpoint: "https://idp.example/token", revocationEndpoint: nil, userinfoEndpoint: nil,
                          supportsRefresh: supportsRefresh)
    }

    /// The sealed provider secret the fixtures store for provider `id`.
    static func providerSecret(_ id: Int64) -> Data { Data("provider-secret-\(id)".utf8) }

    /// A server with its provider.
    @discardableResult
    static func server(_ store: any TollgateStore, _ slug: String, supportsRefresh: Bool = true,
                       at: Date = t0) async throws -> (server: Server, provider: Provider) {
        let server = try await store.createServer(NewServer(slug: slug, upstreamMCPURL: "https://\(slug).example/mcp", scopes: ["read"]),
                                                  audit: audit("server.add"), at: at)
        let provider = try await store.createProvider(serverID: server.id, NewProvider(kind: .oauth2, clientID: "up-\(slug)"),
                                                      resolved: endpoints(supportsRefresh: supportsRefresh),
                                                      seal: { providerSecret($0) }, audit: audit("provider.add"), at: at)
        return (server, provider)
    }

    static func client(_ id: String, serverID: Int64, registeredBy: String = "admin", createdAt: Date = t0,
                       authMethod: ClientAuthMethod = .none) -> Client {
        Client(id: id, serverID: serverID, name: "Client \(id)", redirectURIs: ["http://127.0.0.1:7/cb", "http://127.0.0.1:8/cb"],
               authMethod: authMethod, grantTypes: ["authorization_code", "refresh_token"], registeredBy: registeredBy,
               createdAt: createdAt)
    }

    @discardableResult
    static func createClient(_ store: any TollgateStore, _ id: String, serverID: Int64, registeredBy: String = "admin",
                             createdAt: Date = t0) async throws -> Client {
        let client = client(id, serverID: serverID, registeredBy: registeredBy, createdAt: createdAt)
        try await store.createClient(client, secretHash: nil, audit: audit("client.register"))
        return client
    }

    /// The sealed upstream credential the fixtures store for grant `id` (`generation` tells re-seals and refreshes apart).
    static func credential(_ id: Int64, _ info: UpstreamCredentialInfo, generation: String = "") -> SealedCredential {
        SealedCredential(accessToken: Data("access-\(id)\(generation)".utf8),
                         refreshToken: info.hasRefreshToken ? Data("refresh-\(id)\(generation)".utf8) : nil, info: info)
    }

    static func code(_ label: String, clientID: String, expiresAt: Date) -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(hash: Data("code-\(label)".utf8), grantID: 0, clientID: clientID, redirectURI: "http://127.0.0.1:7/cb",
                                codeChallenge: "challenge-\(label)", expiresAt: expiresAt)
    }

    /// A grant with its credential and a code labelled `codeLabel` (default: unique by subject and time).
    static func grant(_ store: any TollgateStore, serverID: Int64, clientID: String, subject: String?,
                      upstream: UpstreamCredentialInfo = UpstreamCredentialInfo(accessExpiresAt: at(3600), hasRefreshToken: true,
                                                                               refreshExpiresAt: nil, scope: "read"),
                      codeLabel: String? = nil, codeExpiresAt: Date = at(600), at: Date = t0) async throws -> Int64 {
        let label = codeLabel ?? UUID().uuidString
        return try await store.createGrant(
            NewGrant(serverID: serverID, clientID: clientID, subject: subject, scopes: ["read"], resource: "https://r.example/mcp",
                     upstream: upstream),
            seal: { credential($0, upstream) }, code: code(label, clientID: clientID, expiresAt: codeExpiresAt),
            audit: audit("grant.create"), at: at)
    }

    static func pending(_ label: String, serverID: Int64, clientID: String, createdAt: Date = t0,
                        expiresAt: Date = at(600)) -> PendingAuthorization {
        PendingAuthorization(stateHash: Data("state-\(label)".utf8), serverID: serverID, clientID: clientID,
                             redirectURI: "http://127.0.0.1:7/cb", clientState: "cs-\(label)", codeChallenge: "cc-\(label)",
                             scopes: ["read"], resource: "https://r.example/mcp", sealedUpstreamVerifier: Data("verifier-\(label)".utf8),
                             createdAt: createdAt, expiresAt: expiresAt, browserBindingHash: Data("browser-\(label)".utf8))
    }

    /// Every audit event there is, oldest first.
    static func allAudit(_ store: any TollgateStore) async throws -> [AuditEvent] {
        var events: [AuditEvent] = []
        var before: Int64?
        for _ in 0..<1_000 {
            let page = try await store.auditEvents(grantID: nil, since: nil, limit: 500, before: before)
            events += page
            guard page.count == 500, let last = page.last else { break }
            before = last.id
        }
        return events.reversed()
    }

    /// The id of the newest audit event (0 for none).
    static func lastAuditID(_ store: any TollgateStore) async throws -> Int64 {
        try await store.auditEvents(grantID: nil, since: nil, limit: 1, before: nil).first?.id ?? 0
    }

    /// The audit events written after event `id`, oldest first.
    static func audit(after id: Int64, _ store: any TollgateStore) async throws -> [AuditEvent] {
        try await allAudit(store).filter { $0.id > id }
    }
}

/// What a check compares of an audit event: everything but its id.
struct AuditShape: Equatable, CustomStringConvertible {
    var at: Date, actor: String, action: String, serverID: Int64?, grantID: Int64?, clientID: String?, outcome: String, detail: String
    var durationMilliseconds: Int?

    init(_ e: AuditEvent) {
        (at, actor, action, serverID, grantID, clientID, outcome, detail) = (e.at, e.actor, e.action, e.serverID, e.grantID, e.clientID, e.outcome, e.detail)
        durationMilliseconds = e.durationMilliseconds
    }

    init(_ e: NewAuditEvent, at: Date) {
        (self.at, actor, action, serverID, grantID, clientID, outcome, detail) = (at, e.actor, e.action, e.serverID, e.grantID, e.clientID, e.outcome, e.detail)
        durationMilliseconds = e.durationMilliseconds
    }

    var description: String { "\(action)[\(actor) s=\(serverID.map(String.init) ?? "-") g=\(grantID.map(String.init) ?? "-") c=\(clientID ?? "-") \(outcome) '\(detail)' @\(at.millisecondsSince1970)]" }
}

extension Expectations {
    /// Runs `write` and expects it to have written exactly `expected` audit events (in order), compared without ids.
    func audits<T>(_ store: any TollgateStore, _ what: String, _ expected: [AuditShape],
                   _ write: () async throws -> T) async throws -> T {
        let before = try await Fixture.lastAuditID(store)
        let result = try await write()
        let written = try await Fixture.audit(after: before, store).map(AuditShape.init)
        equal(written, expected, "\(what): audit events written")
        return result
    }
}
