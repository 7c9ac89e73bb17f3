import Foundation

/// A token-endpoint answer from the upstream, normalised.
public struct UpstreamTokenResponse: Sendable, Equatable {
    public var accessToken: Secret
    /// `nil` when the upstream sent none (a refresh keeps the previous one).
    public var refreshToken: Secret?
    /// `nil` when the upstream did not say: the expiry is unknown, not infinite.
    public var expiresIn: TimeInterval?
    public var refreshExpiresIn: TimeInterval?
    public var scope: String?
    public var idToken: Secret?
    /// Whether the answer used camelCase names (accepted, with a warning).
    public var usedCamelCase: Bool

    public init(accessToken: Secret, refreshToken: Secret?, expiresIn: TimeInterval?, refreshExpiresIn: TimeInterval? = nil,
                scope: String? = nil, idToken: Secret? = nil, usedCamelCase: Bool = false) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.refreshExpiresIn = refreshExpiresIn
        self.scope = scope
        self.idToken = idToken
        self.usedCamelCase = usedCamelCase
    }

    /// Parses a JSON token response; accepts snake_case (RFC 6749) and camelCase, `expires_in` as a
    /// number or a numeric string. Throws a transient ``UpstreamError`` for anything malformed.
    public static func parse(_ body: Data) throws -> UpstreamTokenResponse {
        guard let json = JSONValue.object(from: body) else {
            throw UpstreamError(.transient, message: "the token response is not a JSON object")
        }
        var camel = false
        func value(_ snake: String, _ camelName: String) -> JSONValue? {
            if let v = json[snake], v != .null { return v }
            if let v = json[camelName], v != .null { camel = true; return v }
            return nil
        }
        func string(_ snake: String, _ camelName: String) -> String? {
            value(snake, camelName)?.stringValue
        }
        func seconds(_ snake: String, _ camelName: String) throws -> TimeInterval? {
            switch value(snake, camelName) {
            case nil: return nil
            case .number(let n)? where n.isFinite && n >= 0: return n
            case .string(let s)?:
                guard let n = Double(s.trimmingCharacters(in: .whitespaces)), n.isFinite, n >= 0 else {
                    throw UpstreamError(.transient, message: "\(snake) is not a number")
                }
                return n
            default: throw UpstreamError(.transient, message: "\(snake) is not a non-negative number")
            }
        }
        guard let access = string("access_token", "accessToken"), !access.isEmpty else {
            throw UpstreamError(.transient, message: "the token response has no access_token")
        }
        if let type = string("token_type", "tokenType"), type.lowercased() != "bearer" {
            throw UpstreamError(.misconfigured, message: "the upstream issued a '\(UpstreamError.sanitize(type, limit: 20))' token, not Bearer")
        }
        let refresh = string("refresh_token", "refreshToken").flatMap { $0.isEmpty ? nil : Secret($0) }
        let response = UpstreamTokenResponse(
            accessToken: Secret(access), refreshToken: refresh,
            expiresIn: try seconds("expires_in", "expiresIn"),
            refreshExpiresIn: try seconds("refresh_expires_in", "refreshExpiresIn"),
            scope: string("scope", "scope"), idToken: string("id_token", "idToken").map(Secret.init),
            usedCamelCase: false)
        var result = response
        result.usedCamelCase = camel
        return result
    }

    /// The `sub` claim of the ID token, read without signature check: the token came straight from the
    /// token endpoint over the provider's own connection (OIDC Core §3.1.3.7).
    public var idTokenSubject: String? { idTokenClaim("sub") }

    /// A string claim of the ID token (read as ``idTokenSubject`` is); `nil` without an ID token or that claim.
    public func idTokenClaim(_ name: String) -> String? {
        guard let parts = idToken?.value.split(separator: "."), parts.count >= 2,
              let payload = Data(base64URLEncoded: String(parts[1])),
              let json = JSONValue.object(from: payload) else { return nil }
        return json[name]?.stringValue
    }

    /// The credential this answer describes at `now`; `previous` supplies the refresh token when none came.
    public func credential(at now: Date, previous: UpstreamCredential? = nil) -> UpstreamCredential {
        UpstreamCredential(
            accessToken: accessToken,
            refreshToken: refreshToken ?? previous?.refreshToken,
            accessExpiresAt: expiresIn.map { now.addingTimeInterval($0) },
            refreshExpiresAt: refreshExpiresIn.map { now.addingTimeInterval($0) }
                ?? (refreshToken == nil ? previous?.refreshExpiresAt : nil),
            scope: scope ?? previous?.scope,
            obtainedAt: now)
    }
}
