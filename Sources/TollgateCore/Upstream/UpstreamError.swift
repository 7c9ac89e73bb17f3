/// A failed call to the upstream provider, classified by what Tollgate should do about it.
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the failure means for the grant.
    public enum Kind: String, Sendable, Equatable {
        /// `invalid_grant`: the upstream refused the code or refresh token; the user must authorize again.
        case invalidGrant = "invalid_grant"
        /// `invalid_client` and other configuration errors: the provider is misconfigured.
        case misconfigured
        /// 429, 5xx, timeout, connection failure, malformed answer: try again later.
        case transient
    }

    public let kind: Kind
    /// The upstream's OAuth error code, when it sent one.
    public let upstreamCode: String?
    /// A safe one-line description (never a token; upstream text is truncated and single-lined).
    public let message: String
    /// The HTTP status, when there was a response.
    public let httpStatus: Int?
    /// Whether the request may have been carried out upstream although no usable answer came back (the
    /// connection broke or timed out after the request went out, or the answer was unreadable). For a
    /// refresh that matters: a rotating upstream may have replaced the refresh token.
    public var mayHaveReachedUpstream: Bool

    public init(_ kind: Kind, upstreamCode: String? = nil, message: String, httpStatus: Int? = nil, mayHaveReachedUpstream: Bool = false) {
        self.kind = kind
        self.upstreamCode = upstreamCode
        self.message = message
        self.httpStatus = httpStatus
        self.mayHaveReachedUpstream = mayHaveReachedUpstream
    }

    public var description: String {
        var parts = ["upstream \(kind.rawValue)"]
        if let httpStatus { parts.append("HTTP \(httpStatus)") }
        if let upstreamCode { parts.append(upstreamCode) }
        return parts.joined(separator: ", ") + ": " + message
    }

    /// Makes upstream-supplied text safe for one log line: printable, bounded.
    static func sanitize(_ text: String, limit: Int = 200) -> String {
        let cleaned = text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : String($0) }.joined()
        return cleaned.count > limit ? String(cleaned.prefix(limit)) + "…" : cleaned
    }
}

import Foundation
