import Crypto
import Foundation

/// A `client_id` that is the URL of a client ID metadata document (draft-ietf-oauth-client-id-metadata-document §3).
///
/// Any `client_id` starting with `https://` is taken for one (``isCandidate(_:)``) and must then pass every rule:
/// at most ``maximumLength`` characters of visible ASCII, `https` with a host, a path other than `/`, no single- or
/// double-dot path segment (raw or percent-encoded), no fragment, no user information, a valid port if any. A query
/// is allowed (the draft discourages it, without forbidding it). The document's `client_id` must equal ``text``
/// exactly.
public struct ClientMetadataURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL exactly as the client presented it: its wire `client_id`.
    public let text: String
    /// The host, lower-cased; an IPv6 literal without brackets.
    public let host: String
    /// The host exactly as written in the URL (what the HTTP client connects to and checks the certificate of).
    public let hostAsWritten: String
    /// The port, when the URL names one.
    public let port: Int?
    /// The path (at least one character after the leading `/`), without the query.
    public let path: String

    /// The longest URL accepted, in characters.
    public static let maximumLength = 2000

    /// Whether `clientID` is meant as a metadata document URL (then ``init(_:)`` decides whether it is a valid one).
    public static func isCandidate(_ clientID: String) -> Bool {
        clientID.utf8.count >= 8 && clientID.prefix(8).lowercased() == "https://"
    }

    /// Validates `text` as a metadata document URL; the error names the rule it breaks.
    public init(_ text: String) throws(ClientMetadataError) {
        func refuse(_ reason: String) -> ClientMetadataError { ClientMetadataError(.invalidURL, reason) }
        guard text.utf8.count <= Self.maximumLength else { throw refuse("it is longer than \(Self.maximumLength) characters") }
        guard text.utf8.allSatisfy(RedirectURIPolicy.isURICharacter) else {
            throw refuse("it contains a space, a control or non-ASCII character, or a character URLs do not allow")
        }
        guard RedirectURIPolicy.hasValidPercentEscapes(text) else { throw refuse("it has an invalid percent escape") }
        guard !text.contains("#") else { throw refuse("it must not have a fragment") }
        guard let parts = RedirectURIParts(text), parts.rawScheme == "https" else {
            throw refuse("it must start with https:// (lower case)")
        }
        guard parts.userInfo == nil else { throw refuse("it must not contain user information") }
        guard var host = parts.host, !host.isEmpty, RedirectURIPolicy.isValidHost(host) else { throw refuse("it needs a host") }
        var port: Int?
        if let written = parts.port {
            guard RedirectURIPolicy.isValidPort(written), let number = Int(written), number > 0 else { throw refuse("it has an invalid port") }
            port = number
        }
        guard parts.path.count > 1 else { throw refuse("it needs a path other than /") }
        let segments = parts.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !segments.contains(where: { segment in
            let decoded = segment.lowercased().replacingOccurrences(of: "%2e", with: ".")
            return decoded == "." || decoded == ".."
        }) else { throw refuse("it must not contain . or .. path segments") }
        hostAsWritten = host
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        self.text = text
        self.host = host.lowercased()
        self.port = port
        path = parts.path
    }

    /// The id of the client row that stands for this document on server `serverID`: `tgm_` and 32 characters of
    /// base64url(SHA-256(server id, URL)), so the same document on the same server is always the same row (and a
    /// revoked one stays revoked), and tokens, grants and audit events keep referring to a short key.
    public func clientRowID(serverID: Int64) -> String {
        let digest = SHA256.hash(data: Data("\(serverID)|\(text)".utf8))
        return Self.rowIDPrefix + String(Data(digest).base64URLEncodedString().prefix(32))
    }

    /// The prefix of the row ids of metadata-document clients.
    public static let rowIDPrefix = "tgm_"

    public var description: String { text }
}
