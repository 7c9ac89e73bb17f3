import Foundation
import Hummingbird
import Logging
import TollgateServer

/// `TollgateBenchmarks bare-proxy --listen PORT --upstream URL`: the gateway's transport alone — the same
/// Hummingbird server set-up, the same `GatewayForwarder` (AsyncHTTPClient pool, header handling, body
/// collection) and Swift tasks on NIO's event loops as `tollgate serve` — with no token check, no store,
/// no metrics and no request log. Benchmarks/gateway/bench.py measures it beside Tollgate: the difference is
/// what Tollgate's own work costs; the bare proxy against nginx direct is the libraries' ceiling here.
enum BareProxy {
    static func run(_ arguments: [String]) async throws {
        func value(_ name: String) -> String? {
            arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
        }
        guard let upstream = value("--upstream"), let port = Int(value("--listen") ?? "0") else {
            FileHandle.standardError.write(Data("usage: TollgateBenchmarks bare-proxy --listen PORT --upstream URL\n".utf8))
            exit(2)
        }
        var logger = Logger(label: "bare-proxy")
        logger.logLevel = .warning
        let forwarder = GatewayForwarder(maxBodyBytes: 1 << 20, timeout: 60, logger: logger)
        let router = Router()
        router.post("/mcp") { request, _ in
            await forwarder.forward(request, to: upstream, bearer: "bare-proxy")
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare-proxy"),
                              onServerRunning: { channel in
                                  let line = "bare-proxy listening on http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n"
                                  FileHandle.standardOutput.write(Data(line.utf8))
                              }, logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        await forwarder.shutdown()
    }
}
