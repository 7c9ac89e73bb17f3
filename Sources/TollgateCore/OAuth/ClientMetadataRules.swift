import Foundation

/// The rules every client's metadata meets, however it reaches Tollgate: RFC 7591 registration, an admin, or a
/// client ID metadata document. Each answers why a value is refused, or `nil` when it is acceptable.
public enum ClientMetadataRules {
    /// The grant types Tollgate supports for its clients.
    public static let supportedGrantTypes: Set<String> = ["authorization_code", "refresh_token"]
    /// The longest `client_name`, in characters.
    public static let maximumNameLength = 200

    /// Why `uris` may not be a client's redirect URIs: none, too many, or one that ``RedirectURIPolicy`` refuses.
    public static func redirectURIsRefusal(_ uris: [String], applicationType: RedirectURIPolicy.ApplicationType?) -> String? {
        guard !uris.isEmpty else { return "redirect_uris must list at least one URI" }
        guard uris.count <= RedirectURIPolicy.maximumCount else {
            return "redirect_uris may list at most \(RedirectURIPolicy.maximumCount) URIs"
        }
        for uri in uris {
            if let refusal = RedirectURIPolicy.refusal(uri, applicationType: applicationType) {
                let advice = switch applicationType {
                case nil: "; use https, http on a loopback host, or a native app's private-use scheme"
                case .native?: " (application_type native)"
                case .web?: " (application_type web)"
                }
                return refusal + advice
            }
        }
        return nil
    }

    /// Why `grantTypes` are not supported: the first one outside ``supportedGrantTypes``.
    public static func grantTypesRefusal(_ grantTypes: [String]) -> String? {
        guard let bad = grantTypes.first(where: { !supportedGrantTypes.contains($0) }) else { return nil }
        return "grant type '\(UpstreamError.sanitize(bad, limit: 40))' is not supported"
    }

    /// Why `name` is not an acceptable `client_name`: too long, or with control characters.
    public static func nameRefusal(_ name: String) -> String? {
        guard name.count <= maximumNameLength else { return "client_name is too long (at most \(maximumNameLength) characters)" }
        guard !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            return "client_name must not contain control characters"
        }
        return nil
    }
}
