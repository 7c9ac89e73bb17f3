import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TollgateTestSupport

/// `/livez`, `/readyz` and `/healthz`: what an orchestrator polls.
@Suite("liveness and readiness probes")
struct ProbeTests {
    @Test func allThreeAnswerOkWhileTheStoreAnswers() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                for path in ["/livez", "/readyz", "/healthz"] {
                    let r = try await client.execute(uri: path, method: .get)
                    #expect(r.status == .ok, "\(path)")
                    #expect(r.text == #"{"status":"ok"}"#, "\(path): \(r.text)")
                    #expect(r.header("Content-Type") == "application/json" && r.header("Cache-Control") == "no-store", "\(path)")
                }
            }
        }
    }

    /// With the store gone, liveness still answers (it does no I/O, so the process is not restarted for a store
    /// outage), readiness answers 503 with a reason and no error text, and `/healthz` answers as it always has.
    @Test func withTheStoreGoneLivenessStaysOkAndReadinessSays503WithAReason() async throws {
        try await ServerHarness.with { s in
            await s.h.tollgate.store.close()
            try await s.test { client in
                let live = try await client.execute(uri: "/livez", method: .get)
                #expect(live.status == .ok && live.text == #"{"status":"ok"}"#, "\(live.text)")
                let ready = try await client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .serviceUnavailable)
                #expect(ready.header("Cache-Control") == "no-store")
                #expect(ready.json.count == 2 && ready.json["status"] as? String == "unavailable", "\(ready.text)")
                let reason = try #require(ready.json["reason"] as? String, "\(ready.text)")
                #expect(["the store cannot be reached", "the store could not be read"].contains(reason), "\(reason)")
                #expect(!ready.text.contains(s.h.databasePath), "the reason names no path: \(ready.text)")
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(health.status == .serviceUnavailable)
                #expect(health.text == #"{"status":"unavailable"}"#, "\(health.text)")
            }
        }
    }
}
