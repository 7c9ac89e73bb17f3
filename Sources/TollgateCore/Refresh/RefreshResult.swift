import Foundation

/// What a call to the refresh coordinator came to.
public struct RefreshResult: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        /// The upstream credential is fresh: refreshed by this call, by a concurrent caller, or already fresh.
        case refreshed
        /// The grant offers no refresh; no HTTP call was made.
        case notRefreshable(NotRefreshableReason)
        /// `invalid_grant` upstream: the grant now needs re-authorization.
        case needsReauth
        /// `invalid_client` or similar: the provider is misconfigured.
        case providerMisconfigured
        /// Try again later; the grant is untouched.
        case transient(retryAfter: TimeInterval)
        /// The grant does not exist.
        case notFound

        /// The outcome's name, as `grant refresh`, the console and the audit trail print it: `refreshed`,
        /// `not-refreshable`, or the stored ``RefreshOutcome`` name (`needs-reauth`, `provider-misconfigured`,
        /// `transient`), or `not-found`.
        public var name: String {
            switch self {
            case .refreshed: "refreshed"
            case .notRefreshable: "not-refreshable"
            case .needsReauth: RefreshOutcome.needsReauth.rawValue
            case .providerMisconfigured: RefreshOutcome.providerMisconfigured.rawValue
            case .transient: RefreshOutcome.transient.rawValue
            case .notFound: "not-found"
            }
        }

        /// Why a request that needed this refresh is refused when it did not give a usable token.
        public var refusalReason: RefusalReason {
            switch self {
            case .refreshed, .transient: .upstreamUnavailable
            case .providerMisconfigured: .providerMisconfigured
            case .needsReauth, .notRefreshable, .notFound: .reauthorizationNeeded
            }
        }

        /// For `transient`: seconds until trying again can succeed.
        public var retryAfter: TimeInterval? {
            if case .transient(let seconds) = self { return seconds }
            return nil
        }
    }

    public var outcome: Outcome
    /// The fresh credential, when the outcome is `.refreshed`.
    public var credential: UpstreamCredential?
    /// A one-line explanation without secrets.
    public var message: String
    /// Whether this caller made the upstream call itself (false when it reused another's result).
    public var calledUpstream: Bool

    public var description: String { "\(outcome): \(message)" }

    static func failure(_ outcome: Outcome, _ message: String) -> RefreshResult {
        RefreshResult(outcome: outcome, credential: nil, message: message, calledUpstream: false)
    }
}
