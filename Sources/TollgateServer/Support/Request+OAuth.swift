import Foundation
import Hummingbird
import TollgateCore

extension Request {
    /// The decoded query string as ordered pairs.
    var queryPairs: [(String, String)] { FormEncoding.decode(uri.query ?? "") }

    /// The query parameters; a parameter given twice is `nil` there (RFC 6749 §3.1: must not repeat).
    var singleQuery: [String: String?] {
        var seen: [String: String?] = [:]
        for (k, v) in queryPairs { seen[k] = seen[k] == nil ? v : .some(nil) }
        return seen
    }

    /// The `Bearer` token of the Authorization header, if any.
    var bearerToken: String? {
        guard let header = headers[.authorization]?.utf8, header.count > 7 else { return nil }
        // "Bearer" (any case), then spaces, then the token; no Foundation on this per-request path.
        let scheme = header.prefix(6)
        guard zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let rest = header.dropFirst(6)
        guard rest.first == UInt8(ascii: " ") else { return nil }
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let start = rest.firstIndex(where: { !isBlank($0) }), let end = rest.lastIndex(where: { !isBlank($0) }) else { return nil }
        return String(Substring(header[start...end]))
    }

    /// The decoded `Basic` credentials (each part form-urldecoded per RFC 6749 §2.3.1).
    var basicCredentials: (id: String, secret: String)? {
        guard let header = headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let decoded = String(data: data, encoding: .utf8), let colon = decoded.firstIndex(of: ":") else { return nil }
        return (FormEncoding.decodeComponent(String(decoded[..<colon])),
                FormEncoding.decodeComponent(String(decoded[decoded.index(after: colon)...])))
    }

    /// Reads an `application/x-www-form-urlencoded` body (RFC 6749 requires that type) into a dictionary;
    /// repeated parameters are an `invalid_request`.
    func form(limit: Int) async throws -> [String: String] {
        let type = headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw OAuthError.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw OAuthError.invalidRequest("the request body is too large")
        }
        var result: [String: String] = [:]
        for (k, v) in FormEncoding.decode(String(buffer: buffer)) {
            if result[k] != nil { throw OAuthError.invalidRequest("parameter '\(UpstreamErrorText.clip(k))' is repeated") }
            result[k] = v
        }
        return result
    }

    /// The client's credentials at a token, revocation or introspection endpoint: Basic header or form.
    /// Both at once is an `invalid_request` (RFC 6749 §2.3).
    func clientCredentials(form: [String: String]) throws -> ClientCredentials {
        if let basic = basicCredentials {
            if form["client_secret"] != nil { throw OAuthError.invalidRequest("use one client authentication method") }
            if let id = form["client_id"], id != basic.id { throw OAuthError.invalidRequest("client_id does not match the credentials") }
            return ClientCredentials(clientID: basic.id, secret: Secret(basic.secret), method: .clientSecretBasic)
        }
        if headers[.authorization] != nil { throw OAuthError.invalidClient("unsupported Authorization scheme") }
        guard let id = form["client_id"], !id.isEmpty else { throw OAuthError.invalidClient("client authentication is missing") }
        if let secret = form["client_secret"] {
            return ClientCredentials(clientID: id, secret: Secret(secret), method: .clientSecretPost)
        }
        return ClientCredentials(clientID: id, secret: nil, method: .none)
    }
}

/// Clipping untrusted text before it goes into an error description.
enum UpstreamErrorText {
    static func clip(_ s: String, _ limit: Int = 40) -> String {
        let printable = s.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(String.init).joined()
        return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
    }
}
