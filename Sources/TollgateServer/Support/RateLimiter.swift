import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TollgateCore

/// A token-bucket rate: up to `burst` events at once, refilled at `perMinute` events a minute.
public struct RateLimit: Sendable, Equatable {
    /// How many events may happen back to back (the bucket's size).
    public var burst: Int
    /// How many events a minute the bucket refills.
    public var perMinute: Double

    public init(burst: Int, perMinute: Double) {
        self.burst = max(1, burst)
        self.perMinute = max(0.001, perMinute)
    }

    /// Dynamic registrations from one source address: 10 at once, then 10 a minute.
    public static let registrationPerAddress = RateLimit(burst: 10, perMinute: 10)
    /// Dynamic registrations from everyone together: 60 at once, then 60 a minute.
    public static let registrationGlobal = RateLimit(burst: 60, perMinute: 60)
    /// Pending authorizations started from one source address: 30 at once, then 30 a minute (a user signs in a
    /// few times a day; an office behind one address still fits).
    public static let authorizationPerAddress = RateLimit(burst: 30, perMinute: 30)
    /// Pending authorizations started by everyone together: 600 at once, then 600 a minute. With rows of at most a
    /// few KB living 10 minutes, a flood stores a few tens of MB at worst.
    public static let authorizationGlobal = RateLimit(burst: 600, perMinute: 600)
}

/// Token buckets per source address under one global bucket, on an injected clock.
///
/// An event is admitted only when both its address's bucket and the global bucket have a token, and then
/// takes one from each; a refused event takes nothing (so one noisy address cannot drain the global bucket
/// for everyone by being refused). Buckets that have refilled completely are forgotten, which keeps the
/// table small: only addresses admitted within the last refill period are remembered.
public final class RateLimiter: Sendable {
    /// The outcome of ``admit(_:)``.
    public enum Decision: Sendable, Equatable {
        case admitted
        /// Refused; a token will be available after this many whole seconds (at least 1).
        case limited(retryAfter: Int)
    }

    struct Bucket {
        var tokens: Double
        var updated: Date

        /// The bucket refilled up to `now`.
        func refilled(_ limit: RateLimit, now: Date) -> Bucket {
            let elapsed = max(0, now.timeIntervalSince(updated))
            return Bucket(tokens: min(Double(limit.burst), tokens + elapsed * limit.perMinute / 60), updated: now)
        }

        /// Seconds until the bucket holds one token.
        func secondsUntilToken(_ limit: RateLimit) -> Double { max(0, 1 - tokens) * 60 / limit.perMinute }
    }

    struct State {
        var perAddress: [String: Bucket] = [:]
        var global: Bucket?
    }

    public let perAddress: RateLimit
    public let global: RateLimit
    let clock: any TollgateClock
    /// Above this many remembered addresses, fully refilled buckets are swept out.
    let sweepThreshold: Int
    private let state = Mutex(State())

    public init(perAddress: RateLimit, global: RateLimit, clock: any TollgateClock, sweepThreshold: Int = 1024) {
        self.perAddress = perAddress
        self.global = global
        self.clock = clock
        self.sweepThreshold = sweepThreshold
    }

    /// Admits one event from `address` (a key from ``sourceKey(_:)``), or says how long to wait.
    public func admit(_ address: String) -> Decision {
        let now = clock.now()
        let perAddress = perAddress, global = global
        return state.withLock { state in
            let mine = (state.perAddress[address] ?? Bucket(tokens: Double(perAddress.burst), updated: now)).refilled(perAddress, now: now)
            let all = (state.global ?? Bucket(tokens: Double(global.burst), updated: now)).refilled(global, now: now)
            guard mine.tokens >= 1, all.tokens >= 1 else {
                let wait = max(mine.secondsUntilToken(perAddress), all.secondsUntilToken(global))
                return .limited(retryAfter: max(1, Int(wait.rounded(.up))))
            }
            state.perAddress[address] = Bucket(tokens: mine.tokens - 1, updated: now)
            state.global = Bucket(tokens: all.tokens - 1, updated: now)
            if state.perAddress.count > sweepThreshold {
                state.perAddress = state.perAddress.filter { $0.value.refilled(perAddress, now: now).tokens < Double(perAddress.burst) }
            }
            return .admitted
        }
    }

    /// How many addresses are remembered (for tests).
    var trackedAddresses: Int { state.withLock { $0.perAddress.count } }

    /// The bucket key of a peer: an IPv4 address, the /64 prefix of an IPv6 address (one host usually
    /// owns a whole /64), the IPv4 address inside an IPv4-mapped IPv6 address, or `local` otherwise.
    public static func sourceKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4?:
            return address?.ipAddress ?? "local"
        case .v6(let v6)?:
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            guard bytes.count == 16 else { return address?.ipAddress ?? "local" }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12..<16].map(String.init).joined(separator: ".")
            }
            return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "::/64"
        default:
            return "local"
        }
    }
}

extension Responses {
    /// 429 with `Retry-After` and an RFC 6749-shaped error body.
    static func rateLimited(retryAfter: Int, _ description: String) -> Response {
        var response = oauthError(OAuthError(.tooManyRequests, description))
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }
}
