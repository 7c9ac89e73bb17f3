import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TollgateTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// How `tollgate serve` takes signals, through the built binary: SIGHUP is logged and serving goes on; SIGTERM
/// drains and ends with one `stopped` line.
@Suite("tollgate serve signals")
struct ServeSignalTests {
    @Test func sighupIsLoggedAndServingGoesOnThenSigtermStopsCleanlyWithAStopLine() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let serve = try BackgroundCommand(binary, ["serve", "--db", h.databasePath, "--listen", "127.0.0.1:0", "--access-log", "off"],
                                              captureStandardError: true)
            #expect(try await Self.status(serve.url + "/healthz") == 200)
            serve.process.send(SIGHUP)
            #expect(await serve.standardError(containing: "reload requested (SIGHUP)", within: 10), "the SIGHUP was logged")
            #expect(serve.process.isRunning, "SIGHUP did not end serve")
            #expect(try await Self.status(serve.url + "/healthz") == 200, "still serving after SIGHUP")
            #expect(serve.stop() == 0)
            let lines = serve.standardErrorAtExit().split(separator: "\n").map(String.init)
            let reload = lines.filter { $0.contains("reload requested (SIGHUP)") }
            #expect(reload.count == 1 && reload.allSatisfy { $0.contains(" notice ") }, "one notice line: \(lines)")
            let last = try #require(lines.last, "a log")
            #expect(last.contains(" notice ") && last.hasSuffix(" stopped"), "the last line says it stopped: \(last)")
            #expect(last.contains("upstream_refreshes_in_flight=0") && last.contains("upstream_refreshes_drained=0"), "\(last)")
        }
    }

    /// SIGTERM while an upstream refresh is still waiting for the provider (the client was told to come back after
    /// `--upstream-timeout`): the drain waits for it, and the stop line counts it as in flight and drained.
    @Test func sigtermDrainsAnUpstreamRefreshInFlightAndTheStopLineCountsIt() async throws {
        let binary = try CLI.binary()
        let (backend, task) = try await EchoBackend.start()
        defer { task.cancel() }
        try await Harness.with(accessTTL: 1, upstreamMCPURL: backend) { h in
            let (_, pair) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 4 }
            try await Task.sleep(nanoseconds: 1_500_000_000)   // the upstream access token has expired
            let serve = try BackgroundCommand(binary, ["serve", "--db", h.databasePath, "--listen", "127.0.0.1:0", "--access-log", "off",
                                                       "--upstream-timeout", "1s"], captureStandardError: true)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var request = HTTPClientRequest(url: serve.url + "/mcp/files")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(pair.accessToken.value)")
            request.body = .bytes(ByteBuffer(string: "{}"))
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            try await http.shutdown()
            #expect(response.status.code != 200, "the client was told to come back while the refresh goes on")
            #expect(serve.stop() == 0)
            #expect(await h.stats().refreshCalls == 1, "the refresh reached the provider")
            let last = try #require(serve.standardErrorAtExit().split(separator: "\n").last.map(String.init))
            #expect(last.hasSuffix(" stopped") && last.contains("upstream_refreshes_in_flight=1") && last.contains("upstream_refreshes_drained=1"),
                    "\(last)")
        }
    }

    /// The status of a GET to `url`.
    static func status(_ url: String) async throws -> UInt {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            try await http.shutdown()
            return response.status.code
        } catch {
            try await http.shutdown()
            throw error
        }
    }
}
