import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

@Suite("registration limits")
struct RegistrationLimitTests {
    @Test func anAddressGetsItsBurstThenOneTokenPerRefillInterval() {
        let clock = ManualClock()
        let limiter = RateLimiter(perAddress: RateLimit(burst: 10, perMinute: 10), global: RateLimit(burst: 1000, perMinute: 1000), clock: clock)
        for _ in 0..<10 { #expect(limiter.admit("192.0.2.1") == .admitted) }
        #expect(limiter.admit("192.0.2.1") == .limited(retryAfter: 6))
        #expect(limiter.admit("192.0.2.2") == .admitted, "another address has its own bucket")
        clock.advance(by: 3)
        #expect(limiter.admit("192.0.2.1") == .limited(retryAfter: 3))
        clock.advance(by: 3)
        #expect(limiter.admit("192.0.2.1") == .admitted)
        #expect(limiter.admit("192.0.2.1") == .limited(retryAfter: 6))
        clock.advance(by: 3600)
        for _ in 0..<10 { #expect(limiter.admit("192.0.2.1") == .admitted) }
        #expect(limiter.admit("192.0.2.1") != .admitted, "the bucket never holds more than its burst")
    }

    @Test func theGlobalBucketCapsAllAddressesTogether() {
        let clock = ManualClock()
        let limiter = RateLimiter(perAddress: RateLimit(burst: 10, perMinute: 10), global: RateLimit(burst: 5, perMinute: 30), clock: clock)
        for i in 0..<5 { #expect(limiter.admit("198.51.100.\(i)") == .admitted) }
        #expect(limiter.admit("198.51.100.99") == .limited(retryAfter: 2))
        clock.advance(by: 2)
        #expect(limiter.admit("198.51.100.99") == .admitted)
        // A refused event takes no token from its address: it is admitted as soon as the global bucket refills.
        #expect(limiter.admit("198.51.100.0") == .limited(retryAfter: 2))
        clock.advance(by: 2)
        #expect(limiter.admit("198.51.100.0") == .admitted)
    }

    @Test func fullyRefilledBucketsAreForgotten() {
        let clock = ManualClock()
        let limiter = RateLimiter(perAddress: RateLimit(burst: 2, perMinute: 60), global: RateLimit(burst: 10_000, perMinute: 1e6),
                                  clock: clock, sweepThreshold: 10)
        for i in 0..<10 { #expect(limiter.admit("a\(i)") == .admitted) }
        #expect(limiter.trackedAddresses == 10)
        clock.advance(by: 5)
        #expect(limiter.admit("b") == .admitted)
        #expect(limiter.trackedAddresses == 1, "the ten refilled buckets went, the new one stays")
    }

    @Test func sourceKeysGroupAnIPv6HostsPrefix() throws {
        #expect(RateLimiter.sourceKey(try SocketAddress(ipAddress: "203.0.113.7", port: 1)) == "203.0.113.7")
        let a = RateLimiter.sourceKey(try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1))
        let b = RateLimiter.sourceKey(try SocketAddress(ipAddress: "2001:db8:1:2:bbbb::2", port: 1))
        let c = RateLimiter.sourceKey(try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1))
        #expect(a == b)
        #expect(a != c)
        #expect(RateLimiter.sourceKey(try SocketAddress(ipAddress: "::ffff:203.0.113.7", port: 1)) == "203.0.113.7")
        #expect(RateLimiter.sourceKey(nil) == "local")
    }

    static let registration = #"{"redirect_uris":["http://127.0.0.1:4000/cb"],"client_name":"burst","token_endpoint_auth_method":"none"}"#

    @Test func theEleventhRapidRegistrationFromOneAddressGets429() async throws {
        try await Harness.with { h in
            // serve's defaults.
            let s = ServerHarness(h, registrationLimit: ServerConfiguration().registrationLimitPerAddress,
                                  registrationGlobalLimit: ServerConfiguration().registrationLimitGlobal)
            try await s.live { client in
                for i in 1...10 {
                    let r = try await client.register(Self.registration)
                    #expect(r.status == .created, "registration \(i): \(r.text)")
                }
                let limited = try await client.register(Self.registration)
                #expect(limited.status == .tooManyRequests)
                let retryAfter = try #require(limited.header("Retry-After").flatMap(Int.init))
                #expect((1...60).contains(retryAfter))
                #expect(limited.header("Content-Type") == "application/json")
                #expect(limited.json["error"] as? String == "too_many_requests")
                #expect(limited.json["error_description"] is String)
            }
            // The bucket that ran out is the peer's address, not a shared fallback key.
            #expect(s.server.registrationLimiter.admit("127.0.0.1") != .admitted)
            #expect(s.server.registrationLimiter.admit(RateLimiter.sourceKey(nil)) == .admitted)
            let stored = try await h.tollgate.admin.clients(limit: 100).items.filter { $0.name == "burst" }
            #expect(stored.count == 10)
        }
    }

    @Test func metadataIsCappedInCountLengthAndSize() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                func uris(_ list: [String]) -> String {
                    String(decoding: try! JSONSerialization.data(withJSONObject: ["redirect_uris": list]), as: UTF8.self)
                }
                let eleven = try await client.register(uris((0..<11).map { "https://ok.example/cb\($0)" }))
                #expect(eleven.status == .badRequest)
                #expect(eleven.json["error"] as? String == "invalid_redirect_uri")
                let long = try await client.register(uris(["https://ok.example/" + String(repeating: "a", count: 2000)]))
                #expect(long.status == .badRequest)
                #expect(long.json["error"] as? String == "invalid_redirect_uri")
                // 17 KiB of metadata (an unknown field: nothing of it would be stored, but it is not read either).
                let padded = #"{"redirect_uris":["https://ok.example/cb"],"logo_uri":"https://ok.example/"# + String(repeating: "a", count: 17 * 1024) + #""}"#
                let big = try await client.register(padded)
                #expect(big.status == .badRequest)
                #expect(big.json["error"] as? String == "invalid_client_metadata")
                let ten = try await client.register(uris((0..<10).map { "https://ok.example/cb\($0)" }))
                #expect(ten.status == .created, "\(ten.text)")
            }
        }
    }
}
