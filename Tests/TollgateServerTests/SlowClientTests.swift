import Foundation
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Slowloris against a real listening server: partial requests never finished must not keep their
/// connections (nor the health check out).
@Suite("Slow clients")
struct SlowClientTests {
    static let limits = ConnectionLimits(maxConnections: 200, headTimeout: 2, bodyTimeout: 2, idleTimeout: 2)
    static let unfinishedHeads = 150
    static let unsentBodies = 100

    @Test func partialRequestsAreClosedWithinTheTimeoutsAndHealthzKeepsAnswering() async throws {
        FileDescriptorLimit.raiseToHardLimit()
        try await ServerHarness.with(configure: { $0.connectionLimits = Self.limits }) { s in
            try await s.live { client in
                let port = try #require(client.port)
                var partial: [RawConnection] = []
                for i in 0..<Self.unfinishedHeads {
                    let connection = try await RawConnection.open(port: port)
                    try await connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-\(i): ")
                    partial.append(connection)
                }
                for _ in 0..<Self.unsentBodies {
                    let connection = try await RawConnection.open(port: port)
                    try await connection.send("POST /oauth/files/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                              + "Content-Length: 1000\r\n\r\ngrant_type=refresh_token&refresh_token=")
                    partial.append(connection)
                }
                // The connection table is full of stalled connections: the health check still gets through.
                var healthy = 0
                for _ in 0..<5 {
                    let (status, body) = try await RawConnection.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if status == 200 && body.contains(#""status":"ok""#) { healthy += 1 }
                }
                // A kept-alive connection that goes quiet after its answer is closed at the idle timeout.
                let idle = try await RawConnection.open(port: port)
                try await idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

                let deadline = ContinuousClock.now + .seconds(20)
                var closedByServer = 0
                for connection in partial + [idle] {
                    let left = max(0, Double((deadline - ContinuousClock.now).components.seconds))
                    if await connection.waitForServerClose(within: left) { closedByServer += 1 }
                }
                let guardian = s.server.connectionGuard
                print("slow clients: \(partial.count) partial connections (\(Self.unfinishedHeads) unfinished heads, \(Self.unsentBodies) unsent bodies) "
                      + "and 1 idle one against a limit of \(Self.limits.maxConnections): \(closedByServer) of \(partial.count + 1) closed by the server "
                      + "(head timeout \(guardian.closedCount(.headTimeout)), body timeout \(guardian.closedCount(.bodyTimeout)), "
                      + "made room \(guardian.closedCount(.evicted)), idle \(guardian.closedCount(.idleTimeout))); /healthz answered \(healthy)/5")
                #expect(healthy == 5)
                #expect(closedByServer == partial.count + 1, "connections still open: \(partial.count + 1 - closedByServer)")
                #expect(idle.firstStatus == 200)
                #expect(guardian.closedCount(.bodyTimeout) > 0 && guardian.closedCount(.headTimeout) > 0)
                let metrics = try await RawConnection.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                #expect(metrics.response.contains(#"tollgate_connections_closed_total{reason="body_timeout"}"#), "\(metrics.response.suffix(600))")
                for connection in partial + [idle] { await connection.close() }
            }
        }
    }
    /// Issue 20 item 1 under load: a flood of sign-ins from one address (each would store a pending authorization)
    /// meets the default limits, stores no more than the burst, and `/healthz` answers throughout.
    @Test func aFloodOfSignInsStoresOnlyTheBurstAndHealthzKeepsAnswering() async throws {
        try await Harness.with { h in
            let s = ServerHarness(h) {
                $0.authorizationLimitPerAddress = RateLimit.authorizationPerAddress
                $0.authorizationLimitGlobal = RateLimit.authorizationGlobal
            }
            try await s.live { client in
                let port = try #require(client.port)
                var browser = FlowBrowser(s, client)
                let uri = OAuthEndpointTests().authorizeURI(h)
                _ = try await browser.startAuthorization(uri)  // approved once: each request below would store a row
                var statuses: [Int: Int] = [:]
                var healthy = 0
                for n in 0..<200 {
                    let r = try await client.execute(uri: OAuthEndpointTests().authorizeURI(h) { $0["state"] = "flood-\(n)" }, method: .get,
                                                     headers: browser.jar.headers)
                    statuses[Int(r.status.code), default: 0] += 1
                    if n % 25 == 0 {
                        let (status, _) = try await RawConnection.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                        if status == 200 { healthy += 1 }
                    }
                }
                let stored = try await StrangerLimitsTests().pendingRows(h)
                print("sign-in flood: 200 authorizations from one address: \(statuses.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")); "
                      + "pending authorizations stored \(stored); /healthz answered \(healthy)/8")
                #expect(stored == RateLimit.authorizationPerAddress.burst, "the approval plus the burst's remainder")
                #expect(statuses[302] == RateLimit.authorizationPerAddress.burst - 1)
                #expect(statuses[429] == 200 - (RateLimit.authorizationPerAddress.burst - 1))
                #expect(healthy == 8)
            }
        }
    }
    /// Issue 20 item 2 under load: a flood of new client ID metadata documents from one address meets the default
    /// limits (only the burst is fetched) and `/healthz` answers throughout.
    @Test func aFloodOfMetadataDocumentsFetchesOnlyTheBurstAndHealthzKeepsAnswering() async throws {
        let fetcher = FakeMetadataFetcher()
        try await Harness.with(clientMetadataFetcher: fetcher) { h in
            let defaults = ServerConfiguration()
            let s = ServerHarness(h, clientMetadataLimit: defaults.clientMetadataLimitPerAddress, clientMetadataGlobalLimit: defaults.clientMetadataLimitGlobal)
            try await s.live { client in
                let port = try #require(client.port)
                var statuses: [Int: Int] = [:]
                var healthy = 0
                for n in 0..<100 {
                    let uri = ClientMetadataDocumentTests.authorizeURI("https://docs.example/clients/\(n).json")
                    statuses[Int(try await client.execute(uri: uri, method: .get).status.code), default: 0] += 1
                    if n % 25 == 0 {
                        let (status, _) = try await RawConnection.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                        if status == 200 { healthy += 1 }
                    }
                }
                print("metadata flood: 100 new documents from one address: \(statuses.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")); "
                      + "fetched \(fetcher.fetched.count); /healthz answered \(healthy)/4")
                #expect(fetcher.fetched.count == defaults.clientMetadataLimitPerAddress.burst)
                #expect(statuses[429] == 100 - defaults.clientMetadataLimitPerAddress.burst)
                #expect(healthy == 4)
            }
        }
    }
}
