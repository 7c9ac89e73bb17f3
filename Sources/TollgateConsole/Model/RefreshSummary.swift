import Foundation
import TollgateCore

/// A forced refresh's outcome in words, as `grant refresh` prints it and the console flashes it.
public struct RefreshSummary: Sendable, Equatable {
    /// `refreshed`, `not-refreshable`, `needs-reauth`, `provider-misconfigured`, `transient` or `not-found`.
    public var outcome: String
    /// Whether the upstream credential is fresh afterwards.
    public var refreshed: Bool
    /// One line without secrets.
    public var message: String
    /// Whether this call made the upstream request itself.
    public var calledUpstream: Bool
    /// For `transient`: when trying again makes sense.
    public var retryAfter: TimeInterval?
    /// For `refreshed`: the new upstream access expiry.
    public var upstreamAccessExpiresAt: Date?

    /// A summary from its parts.
    public init(outcome: String, refreshed: Bool, message: String, calledUpstream: Bool,
                retryAfter: TimeInterval? = nil, upstreamAccessExpiresAt: Date? = nil) {
        self.outcome = outcome
        self.refreshed = refreshed
        self.message = message
        self.calledUpstream = calledUpstream
        self.retryAfter = retryAfter
        self.upstreamAccessExpiresAt = upstreamAccessExpiresAt
    }

    /// The summary of the refresh coordinator's result (the reason, for a grant that cannot refresh).
    public init(_ result: RefreshResult) {
        self.init(outcome: result.outcome.name, refreshed: result.outcome == .refreshed, message: result.message,
                  calledUpstream: result.calledUpstream, retryAfter: result.outcome.retryAfter,
                  upstreamAccessExpiresAt: result.credential?.accessExpiresAt)
        if case .notRefreshable(let reason) = result.outcome { message = reason.rawValue }
    }

    /// `refreshed; upstream access expires in 1h` or `needs-reauth: the upstream said invalid_grant`.
    public func sentence(now: Date) -> String {
        if refreshed {
            return "refreshed" + (calledUpstream ? "" : " (no upstream call was needed)") +
                "; upstream access expires \(TimeText.relative(upstreamAccessExpiresAt, now: now))"
        }
        return outcome + (retryAfter.map { " (retry in \(TimeText.span($0)))" } ?? "") + (message.isEmpty ? "" : ": \(message)")
    }
}
