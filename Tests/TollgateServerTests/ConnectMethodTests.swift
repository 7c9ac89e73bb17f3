import Foundation
import HummingbirdTesting
import Testing
@testable import TollgateServer
import TollgateTestSupport

/// Issue 20 item 10: a CONNECT to an OAuth endpoint was answered 405 with `Content-Type: application/json` and an
/// empty body (NIO drops the body of any response to a CONNECT), and a CONNECT was seen left unanswered until the
/// client gave up. Now every CONNECT gets a bodiless 405 without a content type, at once, and the connection closes.
@Suite("CONNECT requests")
struct ConnectMethodTests {
    @Test func everyConnectIsAnsweredAtOnceWithoutAJSONTypeAndClosed() async throws {
        // Timeouts far above the bound below: an answer must come from the CONNECT handling, not from a timeout.
        try await ServerHarness.with(configure: { $0.connectionLimits = ConnectionLimits(headTimeout: 30, bodyTimeout: 30, idleTimeout: 30) }) { s in
            try await s.live { client in
                let port = try #require(client.port)
                let requests = [
                    "CONNECT /oauth/files/token HTTP/1.1\r\nHost: a\r\n\r\n",
                    "CONNECT /oauth/files/token HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                    "CONNECT /mcp/files HTTP/1.1\r\nHost: a\r\n\r\n",
                    "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
                    "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: a\r\n\r\nSSH-2.0-probe\r\n",
                ]
                for request in requests {
                    let started = ContinuousClock.now
                    let connection = try await RawConnection.open(port: port)
                    try await connection.send(request)
                    let closed = await connection.waitForServerClose(within: 10)
                    let what = request.prefix(50).debugDescription
                    #expect(closed, "the server closed the connection: \(what)")
                    #expect(ContinuousClock.now - started < .seconds(8), "answered at once, not by a timeout: \(what)")
                    let response = try #require(connection.firstResponse, "an answer: \(what)")
                    #expect(response.status == 405, "\(what)")
                    #expect(response.headers["allow"] == "GET, POST, DELETE, OPTIONS")
                    #expect(response.headers["content-type"] == nil, "no JSON type over an empty body: \(what)")
                    #expect(!String(decoding: connection.received, as: UTF8.self).contains("SSH"), "nothing is tunnelled")
                }
                // The server goes on serving.
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            }
        }
    }
}
