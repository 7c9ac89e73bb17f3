import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("refusal limiter and recorder")
struct RefusalLimiterTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aSprayOfUnknownTokensIsOneEventPerIntervalWithTheRestCounted() {
        var limiter = RefusalLimiter(interval: 60, globalPerSecond: 20, capacity: 64)
        let key = RefusalLimiter.Key(Refusal(.unknownToken))
        var admitted: [(Int, RefusalLimiter.Admission)] = []
        for i in 0..<10_000 {
            if let a = limiter.admit(key, at: start.addingTimeInterval(Double(i) * 0.005)) { admitted.append((i, a)) }
        }
        #expect(admitted.count == 1, "50 s of spraying fits in one interval")
        #expect(admitted.first?.1 == RefusalLimiter.Admission(suppressed: 0, suppressedSince: nil))
        let next = limiter.admit(key, at: start.addingTimeInterval(61))
        #expect(next == RefusalLimiter.Admission(suppressed: 9_999, suppressedSince: start.addingTimeInterval(0.005)))
        #expect(limiter.admit(key, at: start.addingTimeInterval(62)) == nil)
    }

    @Test func keysAreSeparateButAllShareTheGlobalCap() {
        var limiter = RefusalLimiter(interval: 60, globalPerSecond: 5, capacity: 1000)
        var admitted = 0
        for grant in 0..<100 {
            if limiter.admit(RefusalLimiter.Key(Refusal(.revoked, grantID: Int64(grant))), at: start) != nil { admitted += 1 }
        }
        #expect(admitted == 5)
        // A held-back key is not in its interval: it is recorded (with its count) when the cap allows.
        let later = limiter.admit(RefusalLimiter.Key(Refusal(.revoked, grantID: 99)), at: start.addingTimeInterval(1))
        #expect(later?.suppressed == 1)
        #expect(limiter.admit(RefusalLimiter.Key(Refusal(.expiredToken, grantID: 99)), at: start.addingTimeInterval(1)) != nil,
                "another reason of the same grant has its own budget")
    }

    @Test func theTableStaysBoundedAndCountsWhatItForgets() {
        var limiter = RefusalLimiter(interval: 60, globalPerSecond: 1, capacity: 64)
        for client in 0..<5_000 {
            let key = RefusalLimiter.Key(Refusal(.invalidClient, clientID: "c\(client)"))
            _ = limiter.admit(key, at: start)
            _ = limiter.admit(key, at: start)
        }
        #expect(limiter.count <= 64)
        #expect(limiter.forgotten > 9_000, "held-back counts of dropped keys are counted, not silently lost")
    }

    @Test func theRecorderWritesBoundedEventsWithoutTokenMaterial() async throws {
        try await Harness.with { h in
            let recorder = RefusalRecorder(store: h.tollgate.store, clock: h.clock, limiter: RefusalLimiter(interval: 60, globalPerSecond: 20))
            for _ in 0..<10_000 {
                recorder.record(Refusal(.unknownToken), description: "unknown access token", route: "POST /mcp/files")
            }
            h.clock.advance(by: 61)
            recorder.record(Refusal(.unknownToken), description: "unknown access token", route: "POST /mcp/files")
            await recorder.shutdown()
            let events = try await h.tollgate.admin.audit(.refusals(grantID: nil, limit: 100))
            #expect(events.count == 2)
            #expect(events.allSatisfy { $0.outcome == "unknown_token" && $0.actor == "server" && $0.grantID == nil })
            #expect(events.first?.detail.hasPrefix("unknown access token (POST /mcp/files); and 9999 more since ") == true)
            #expect(events.allSatisfy { !$0.detail.contains("tg_") })
            #expect(recorder.dropped == 0)
        }
    }

    @Test func aFullQueueDropsAndCounts() async throws {
        try await Harness.with { h in
            let dropped = DroppedCounter()
            let recorder = RefusalRecorder(store: h.tollgate.store, clock: h.clock,
                                           limiter: RefusalLimiter(interval: 60, globalPerSecond: 10_000, capacity: 10_000),
                                           queueCapacity: 4, onDropped: { dropped.add() })
            for grant in 0..<2_000 {
                recorder.record(Refusal(.revoked, grantID: Int64(grant)), description: "the access token has been revoked", route: "GET /mcp/files")
            }
            await recorder.shutdown()
            let written = try await h.tollgate.admin.audit(.refusals(grantID: nil, limit: 5_000)).count
            #expect(recorder.dropped > 0 && recorder.dropped == dropped.value)
            #expect(written + recorder.dropped == 2_000)
        }
    }
}

final class DroppedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
