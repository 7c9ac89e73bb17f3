import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// A fetcher of client ID metadata documents that never touches the network: it counts its fetches and answers
/// with a valid document for the URL, a refusal, or (while ``hold`` is on) waits until it is released.
final class FakeMetadataFetcher: ClientMetadataFetcher {
    enum Answer: Sendable {
        case valid
        case failure(ClientMetadataError)
    }

    private struct State {
        var fetched: [String] = []
        var inFlight = 0
        var holding: Bool
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    let answer: Answer
    private let state: Mutex<State>

    init(_ answer: Answer = .valid, hold: Bool = false) {
        self.answer = answer
        state = Mutex(State(holding: hold))
    }

    /// The URLs fetched so far, in order.
    var fetched: [String] { state.withLock { $0.fetched } }
    /// The fetches that are waiting for ``release()``.
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Lets every held fetch (and every later one) answer.
    func release() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func fetch(_ url: ClientMetadataURL) async throws -> ClientMetadataResponse {
        let hold = state.withLock { state in
            state.fetched.append(url.text)
            state.inFlight += 1
            return state.holding
        }
        if hold {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.holding { state.waiting.append(continuation); return false }
                    return true
                }
                if resumeNow { continuation.resume() }
            }
        }
        state.withLock { $0.inFlight -= 1 }
        switch answer {
        case .valid:
            let body = try JSONSerialization.data(withJSONObject: ClientMetadataDocumentTests.document(url.text), options: [.withoutEscapingSlashes])
            return ClientMetadataResponse(body: body, contentType: "application/json", cacheControl: nil)
        case .failure(let error):
            throw error
        }
    }
}

/// Client ID metadata documents cannot make Tollgate fetch without bound: first fetches of new documents are rate
/// limited like registrations, failing documents back off, fetches in flight are capped, and the browser is
/// never told how a fetch failed (connection, TLS, status or content).
@Suite("client ID metadata document limits")
struct ClientMetadataLimitTests {
    static let generic = "the client's metadata document could not be fetched"

    static func url(_ i: Int) -> String { "https://app\(i).example/client.json" }

    @Test func firstFetchesOfNewDocumentsAreLimitedPerSourceLikeRegistration() async throws {
        let fetcher = FakeMetadataFetcher()
        try await Harness.with(clientMetadataFetcher: fetcher) { h in
            // serve's defaults, which are registration's.
            let defaults = ServerConfiguration()
            #expect(defaults.clientMetadataLimitPerAddress == defaults.registrationLimitPerAddress)
            #expect(defaults.clientMetadataLimitGlobal == defaults.registrationLimitGlobal)
            let s = ServerHarness(h, clientMetadataLimit: defaults.clientMetadataLimitPerAddress,
                                  clientMetadataGlobalLimit: defaults.clientMetadataLimitGlobal)
            let burst = defaults.clientMetadataLimitPerAddress.burst
            try await s.live { client in
                var admitted: [Int] = []
                for i in 0..<25 {
                    let page = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(i)), method: .get)
                    if page.status == .ok {
                        admitted.append(i)
                        continue
                    }
                    #expect(page.status == .tooManyRequests, "document \(i): \(page.status) \(page.text.suffix(300))")
                    #expect(page.header("Content-Type")?.hasPrefix("text/html") == true, "the authorization error page")
                    #expect(page.header("Location") == nil)
                    let retryAfter = try #require(page.header("Retry-After").flatMap(Int.init), "document \(i)")
                    #expect((1...60).contains(retryAfter))
                }
                #expect(admitted == Array(0..<burst), "the first \(burst) new documents are fetched, the rest refused")
                // A document already accepted is not limited (and not fetched again while cached).
                let known = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(0)), method: .get)
                #expect(known.status == .ok, "\(known.text.suffix(300))")
            }
            #expect(fetcher.fetched == (0..<burst).map(Self.url), "only the admitted documents were fetched")
            let rows = try await h.tollgate.admin.clients(limit: 100).items.filter { $0.metadataDocument != nil }
            #expect(rows.count == burst)
            // The bucket that ran out is the peer's address, as registration keys it.
            #expect(s.server.clientMetadataLimiter.admit("127.0.0.1") != .admitted)
            #expect(s.server.clientMetadataLimiter.admit(RateLimiter.sourceKey(nil)) == .admitted)
            let metrics = s.server.metrics.render()
            #expect(metrics.contains(#"tollgate_client_metadata_fetches_total{outcome="accepted"} \#(burst)"#), "\(metrics)")
            #expect(metrics.contains(#"tollgate_client_metadata_fetches_total{outcome="limited"} \#(25 - burst)"#), "\(metrics)")
        }
    }

    @Test func aFailingDocumentIsNotFetchedAgainUntilItsBackoffPasses() async throws {
        let fetcher = FakeMetadataFetcher(.failure(ClientMetadataError(.fetchFailed, "the document could not be fetched (connection refused)")))
        try await ServerHarness.with(clientMetadataFetcher: fetcher) { s in
            let url = Self.url(1)
            try await s.test { client in
                func requestTwenty(_ round: String) async throws {
                    for i in 0..<20 {
                        let page = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(url), method: .get)
                        #expect(page.status == .badRequest, "\(round) \(i): \(page.status)")
                        #expect(page.text.contains(HTML.escape(Self.generic)), "\(round) \(i): \(page.text.suffix(300))")
                    }
                }
                try await requestTwenty("first")
                #expect(fetcher.fetched.count == 1, "twenty requests, one fetch")
                s.h.clock.advance(by: 31)
                try await requestTwenty("after 31 s")
                #expect(fetcher.fetched.count == 2, "past the 30 s backoff: fetched once more")
                s.h.clock.advance(by: 31)
                try await requestTwenty("31 s into the doubled backoff")
                #expect(fetcher.fetched.count == 2, "the backoff doubled to 60 s")
                s.h.clock.advance(by: 30)
                try await requestTwenty("past the doubled backoff")
                #expect(fetcher.fetched.count == 3)
                // Another document is not held back by this one's failures.
                _ = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(2)), method: .get)
                #expect(fetcher.fetched.count == 4)
            }
            let metrics = s.server.metrics.render()
            #expect(metrics.contains(#"tollgate_client_metadata_fetches_total{outcome="failed"} 4"#), "\(metrics)")
            #expect(metrics.contains(#"tollgate_client_metadata_fetches_total{outcome="backing_off"} 77"#), "\(metrics)")
        }
    }

    @Test func theBrowserIsNeverToldHowAFetchFailedButTheRowIs() async throws {
        // Three documents accepted earlier (their rows exist) whose URLs now fail in different ways: a closed port, a
        // plain-HTTP server where TLS was expected, and a TLS server that serves HTML. Port 9 is closed on loopback
        // (the harness's dead upstream uses it too); the dev upstream speaks plain HTTP.
        try await ClientMetadataDocumentTests.with(reply: { path, server in
            path == "/missing.json" ? MetadataDocumentServer.Reply(status: 404, body: Data())
                : .json(ClientMetadataDocumentTests.document(server.url(path)), contentType: "text/html")
        }) { s, documents in
            let devPort = try #require(URLComponents(string: s.h.devURL)?.port)
            let urls = [
                "closed port": "https://127.0.0.1:9/client.json",
                "plain HTTP": "https://127.0.0.1:\(devPort)/client.json",
                "HTML": documents.url(),
                "404": documents.url("/missing.json"),
            ]
            for url in urls.values {
                let row = Client(id: try ClientMetadataURL(url).clientRowID(serverID: s.h.server.id), serverID: s.h.server.id,
                                 name: "Earlier", redirectURIs: [Harness.redirectURI], authMethod: .none,
                                 grantTypes: ["authorization_code", "refresh_token"], registeredBy: Client.metadataDocumentRegistration,
                                 createdAt: s.h.clock.now(), metadataDocument: MetadataDocumentState(url: url, lastFetchedAt: s.h.clock.now()))
                _ = try await s.h.tollgate.store.saveMetadataDocumentClient(row, audit: NewAuditEvent(actor: "test", action: "client.register"),
                                                                            at: s.h.clock.now())
            }
            s.h.clock.advance(by: 1)
            let pages = try await s.test { client in
                var pages: [String: String] = [:]
                for (kind, url) in urls {
                    let page = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(url), method: .get)
                    #expect(page.status == .badRequest, "\(kind): \(page.status)")
                    #expect(page.header("Location") == nil)
                    pages[kind] = page.text
                }
                return pages
            }
            #expect(Set(pages.values).count == 1, "one page for every failure: \(pages)")
            let page = try #require(pages.values.first)
            #expect(page.contains(HTML.escape(Self.generic)), "\(page)")
            for detail in ["TLS", "SSL", "refused", "connect", "timed out", "HTTP 404", "text/html", ":9", String(devPort)] {
                #expect(!page.contains(detail), "the page says nothing like “\(detail)”")
            }
            var details: [String: String] = [:]
            for (kind, url) in urls {
                let row = try await s.h.tollgate.admin.client(id: try ClientMetadataURL(url).clientRowID(serverID: s.h.server.id))
                #expect(row.metadataDocument?.lastFetchFailed == true, "\(kind): the failure is recorded on the row")
                details[kind] = row.metadataDocument?.lastError
            }
            #expect(Set(details.values).count == urls.count, "each row says what went wrong: \(details)")
            #expect(details["HTML"]?.contains("text/html") == true, "\(details)")
            #expect(details["404"] == "the document URL answered HTTP 404", "\(details)")
        }
    }

    @Test func firstFetchesBeyondTheConcurrencyCapAreRefusedAtOnce() async throws {
        let fetcher = FakeMetadataFetcher(hold: true)
        try await ServerHarness.with(clientMetadataFetcher: fetcher) { s in
            let cap = 8
            try await s.test { client in
                let held = Task {
                    try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                        for i in 0..<cap {
                            group.addTask { try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(i)), method: .get).status }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                }
                for _ in 0..<1000 where fetcher.inFlight < cap { try await Task.sleep(for: .milliseconds(5)) }
                #expect(fetcher.inFlight == cap, "\(cap) fetches held")
                let answered = Mutex(false)
                let extra = Task {
                    let page = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(cap)), method: .get)
                    answered.withLock { $0 = true }
                    return page
                }
                // Bounded wait: the refusal must not wait for a held fetch.
                for _ in 0..<600 where !answered.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
                let refusedAtOnce = answered.withLock { $0 }
                fetcher.release()
                let page = try await extra.value
                #expect(refusedAtOnce, "the fetch beyond the cap is refused without waiting")
                #expect(page.status == .serviceUnavailable, "\(page.status) \(page.text.suffix(300))")
                #expect(page.header("Retry-After") != nil)
                #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
                #expect(try await held.value == Array(repeating: .ok, count: cap), "the held fetches complete")
                #expect(!fetcher.fetched.contains(Self.url(cap)), "the refused document was not fetched")
                // With the slots free again, the refused document is fetched.
                let again = try await client.execute(uri: ClientMetadataDocumentTests.authorizeURI(Self.url(cap)), method: .get)
                #expect(again.status == .ok)
            }
            #expect(s.server.metrics.render().contains(#"tollgate_client_metadata_fetches_total{outcome="busy"} 1"#))
        }
    }
}
