/// Why a client ID metadata document was not accepted: the URL, the trust policy, the fetch, or the document.
///
/// The description is safe to show on a page and in the store's last-fetch error: it names the rule that was
/// broken, never the document's content beyond a clipped field name.
public struct ClientMetadataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which step refused.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The `client_id` is not a valid metadata document URL.
        public static let invalidURL = Kind(rawValue: "invalid-url")
        /// The server's trust policy does not accept this document (off, or not on its allowlist).
        public static let notTrusted = Kind(rawValue: "not-trusted")
        /// The address the host resolves to may not be fetched (private, loopback, metadata, …).
        public static let forbiddenAddress = Kind(rawValue: "forbidden-address")
        /// The fetch failed: name resolution, connection, TLS, timeout, a status other than 200 (a redirect included).
        public static let fetchFailed = Kind(rawValue: "fetch-failed")
        /// The response is not an acceptable document (size, content type, JSON, fields).
        public static let invalidDocument = Kind(rawValue: "invalid-document")
    }

    public let kind: Kind
    /// What was wrong, in one line.
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }

    /// The OAuth error an endpoint answers with: always `invalid_client` (the client could not be identified).
    public var oauthError: OAuthError {
        let prefix = kind == .notTrusted ? "" : "the client ID metadata document was refused: "
        return OAuthError.invalidClient(prefix + reason)
    }
}
