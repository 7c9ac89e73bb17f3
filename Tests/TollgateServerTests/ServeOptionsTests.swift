import Foundation
import Testing
import TollgateTestSupport

/// `tollgate serve`'s connection and forwarding options, through the built binary.
@Suite("tollgate serve options")
struct ServeOptionsTests {
    @Test func theConnectionAndForwardingOptionsExistAndCheckTheirValues() async throws {
        let binary = try CLI.binary()
        for arguments in [["--max-connections", "0"], ["--head-timeout", "0"], ["--body-timeout", "soon"], ["--idle-timeout", "-5"],
                          ["--forwarded-headers", "trust"]] {
            let result = try await CLI.run(binary, ["serve", "--db", "/nonexistent/tollgate.sqlite"] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.lowercased().contains("unknown option"), "\(arguments): \(result.stderr)")
        }
        let help = try await CLI.run(binary, ["serve", "--help"])
        for option in ["--max-connections", "--head-timeout", "--body-timeout", "--idle-timeout", "--forwarded-headers"] {
            #expect(help.stdout.contains(option), "\(option) in serve --help")
        }
    }

    /// Starts with a low open-file soft limit: `serve` raises it to the hard limit, and its `--head-timeout`
    /// closes a connection that never sends a byte.
    @Test func serveRaisesItsOpenFileLimitAndItsHeadTimeoutClosesASilentConnection() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let serve = try BackgroundCommand(binary, ["serve", "--db", h.databasePath, "--listen", "127.0.0.1:0", "--log-level", "error",
                                                       "--head-timeout", "1s", "--forwarded-headers", "set", "--max-connections", "64"],
                                              openFileSoftLimit: 256)
            let port = try #require(serve.port)
            #if os(Linux)
            let limits = try String(contentsOfFile: "/proc/\(serve.process.processIdentifier)/limits", encoding: .utf8)
            let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
            let values = openFiles.split(separator: " ").dropFirst(3).prefix(2).map(String.init)
            #expect(values.count == 2 && values[0] == values[1], "soft limit raised to the hard one: \(openFiles)")
            #endif
            let silent = try await RawConnection.open(port: port)
            #expect(await silent.waitForServerClose(within: 15), "the server closed the silent connection")
            #expect(serve.stop() == 0)
        }
    }
}
