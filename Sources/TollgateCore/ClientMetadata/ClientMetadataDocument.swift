import Foundation

/// A client ID metadata document that passed validation: what Tollgate keeps of it.
public struct ClientMetadataDocument: Sendable, Equatable {
    /// The document's URL, equal to its `client_id`.
    public var url: ClientMetadataURL
    /// `client_name`, or the URL's host when the document has none.
    public var name: String
    public var redirectURIs: [String]
    public var grantTypes: [String]

    /// The largest document accepted, in bytes (the draft suggests 5 KiB).
    public static let maximumBytes = 5 * 1024

    /// Validates a fetched document for `url`:
    ///
    /// - at most ``maximumBytes``, served as `application/json` (or `application/…+json`), a JSON object;
    /// - `client_id` equal to the URL (simple string comparison);
    /// - `redirect_uris` present, each acceptable by ``RedirectURIPolicy`` (with `application_type` honoured);
    /// - `token_endpoint_auth_method` absent or `none`: a published document cannot carry a shared secret, so
    ///   `client_secret_*` (and a `client_secret` member) are refused, and other methods are not supported;
    /// - `grant_types` within `authorization_code` and `refresh_token` and including `authorization_code`;
    ///   `response_types`, if present, exactly `["code"]`;
    /// - `client_name`, if present, a string of at most 200 characters without control characters.
    public static func validate(_ body: Data, contentType: String?, for url: ClientMetadataURL) throws(ClientMetadataError) -> ClientMetadataDocument {
        func refuse(_ reason: String) -> ClientMetadataError { ClientMetadataError(.invalidDocument, reason) }
        guard body.count <= maximumBytes else { throw refuse("the document is larger than \(maximumBytes) bytes") }
        guard isJSONContentType(contentType) else {
            throw refuse("the document is served as '\(UpstreamError.sanitize(contentType ?? "nothing", limit: 60))', not application/json")
        }
        guard let json = JSONValue.object(from: body) else { throw refuse("the document is not a JSON object") }
        guard let clientID = json["client_id"]?.stringValue else { throw refuse("the document has no client_id string") }
        guard clientID == url.text else { throw refuse("the document's client_id is not its URL") }
        if json["client_secret"] != nil || json["client_secret_expires_at"] != nil {
            throw refuse("the document must not carry a client_secret")
        }
        if let value = json["token_endpoint_auth_method"] {
            guard let method = value.stringValue else { throw refuse("token_endpoint_auth_method must be a string") }
            if method.hasPrefix("client_secret_") {
                throw refuse("token_endpoint_auth_method \(method) needs a shared secret, which a published document cannot carry; use none")
            }
            guard method == "none" else {
                throw refuse("token_endpoint_auth_method '\(UpstreamError.sanitize(method, limit: 40))' is not supported; use none")
            }
        }
        var applicationType: RedirectURIPolicy.ApplicationType?
        if let value = json["application_type"] {
            guard let text = value.stringValue, let type = RedirectURIPolicy.ApplicationType(rawValue: text) else {
                throw refuse("application_type must be \"web\" or \"native\"")
            }
            applicationType = type
        }
        guard case .array(let rawURIs)? = json["redirect_uris"] else { throw refuse("the document has no redirect_uris array") }
        let uris = rawURIs.compactMap(\.stringValue)
        guard uris.count == rawURIs.count else { throw refuse("redirect_uris must be strings") }
        if let refusal = ClientMetadataRules.redirectURIsRefusal(uris, applicationType: applicationType) { throw refuse(refusal) }
        var grantTypes = ["authorization_code", "refresh_token"]
        if let value = json["grant_types"] {
            guard let given = value.arrayOfStrings else { throw refuse("grant_types must be an array of strings") }
            if let refusal = ClientMetadataRules.grantTypesRefusal(given) { throw refuse(refusal) }
            guard given.contains("authorization_code") else { throw refuse("grant_types must include authorization_code") }
            grantTypes = given
        }
        if let value = json["response_types"], value.arrayOfStrings != ["code"] {
            throw refuse("response_types must be [\"code\"]")
        }
        var name = url.host
        if let value = json["client_name"] {
            guard let given = value.stringValue else { throw refuse("client_name must be a string") }
            if let refusal = ClientMetadataRules.nameRefusal(given) { throw refuse(refusal) }
            if !given.trimmingCharacters(in: .whitespaces).isEmpty { name = given }
        }
        return ClientMetadataDocument(url: url, name: name, redirectURIs: uris, grantTypes: grantTypes)
    }

    /// `application/json`, or a more specific `application/…+json`, with any parameters (`charset`).
    static func isJSONContentType(_ header: String?) -> Bool {
        guard let header else { return false }
        let type = header.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json") && !type.contains(" "))
    }
}
