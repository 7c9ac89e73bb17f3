import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A provider as the upstream client needs it: endpoints and client credentials (secret in the clear,
/// in memory only).
public struct ProviderAccess: Sendable {
    public var provider: Provider
    public var clientSecret: Secret?

    public init(provider: Provider, clientSecret: Secret?) {
        self.provider = provider
        self.clientSecret = clientSecret
    }
}

/// Tollgate as an OAuth client of the upstream provider: code exchange, refresh, revocation, userinfo,
/// and OIDC discovery. Every call has a timeout; every failure is an ``UpstreamError`` with its class.
public struct UpstreamClient: Sendable {
    let http: HTTPClient
    /// Per-call timeout (default 10 s).
    public var timeout: TimeAmount
    let logger: Logger
    /// Responses larger than this are refused.
    static let maxResponseBytes = 1 << 20

    public init(http: HTTPClient, timeout: TimeInterval = 10, logger: Logger = Logger(label: "tollgate.upstream")) {
        self.http = http
        self.timeout = .milliseconds(Int64(timeout * 1000))
        self.logger = logger
    }

    // MARK: Token endpoint

    /// Exchanges an upstream authorization code (with its PKCE verifier).
    public func exchangeCode(_ code: Secret, redirectURI: String, codeVerifier: Secret,
                             with access: ProviderAccess) async throws -> UpstreamTokenResponse {
        try await tokenRequest([
            ("grant_type", "authorization_code"), ("code", code.value), ("redirect_uri", redirectURI),
            ("code_verifier", codeVerifier.value),
        ], with: access)
    }

    /// Refreshes with an upstream refresh token. `scope` and `resource` are sent only when given.
    ///
    /// - Parameter timeout: how long the answer is awaited (default: ``timeout``). The refresh coordinator
    ///   passes a generous hard limit: once sent, the upstream may already have rotated the refresh token,
    ///   so its answer is worth waiting for long after any caller has given up.
    public func refresh(_ refreshToken: Secret, scope: String? = nil, resource: String? = nil,
                        with access: ProviderAccess, timeout: TimeInterval? = nil) async throws -> UpstreamTokenResponse {
        var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken.value)]
        if let scope { form.append(("scope", scope)) }
        if let resource { form.append(("resource", resource)) }
        return try await tokenRequest(form, with: access, timeout: timeout.map { .milliseconds(Int64($0 * 1000)) })
    }

    /// POSTs `form` to the token endpoint, with the provider's ``Provider/resourceIndicator`` when it has one and the
    /// form names none.
    func tokenRequest(_ form: [(String, String)], with access: ProviderAccess, timeout: TimeAmount? = nil) async throws -> UpstreamTokenResponse {
        var form = form
        if let resource = access.provider.resourceIndicator, !form.contains(where: { $0.0 == "resource" }) {
            form.append(("resource", resource))
        }
        let (status, body) = try await post(access.provider.tokenEndpoint, form: form, access: access, timeout: timeout)
        let refreshing = form.contains { $0 == ("grant_type", "refresh_token") }
        // Some providers answer errors with HTTP 200 (GitHub: {"error": …}; Slack: {"ok": false, "error": …}).
        guard status == 200, !Self.isErrorObject(body) else { throw Self.classify(status: status, body: body, refreshing: refreshing) }
        let response: UpstreamTokenResponse
        do {
            response = try UpstreamTokenResponse.parse(body)
        } catch var error as UpstreamError {
            // A 200 the upstream sent means it carried the request out, even if its answer is unusable.
            error.mayHaveReachedUpstream = true
            throw error
        }
        if response.usedCamelCase {
            logger.warning("upstream token response uses camelCase names", metadata: ["endpoint": "\(access.provider.tokenEndpoint)"])
        }
        return response
    }

    /// Revokes a token at the provider's revocation endpoint (RFC 7009).
    public func revoke(_ token: Secret, hint: String, with access: ProviderAccess) async throws {
        guard let endpoint = access.provider.revocationEndpoint else {
            throw UpstreamError(.misconfigured, message: "the provider has no revocation endpoint")
        }
        let (status, body) = try await post(endpoint, form: [("token", token.value), ("token_type_hint", hint)], access: access)
        guard status == 200 else { throw Self.classify(status: status, body: body) }
    }

    /// The `sub` from the userinfo endpoint.
    public func userinfoSubject(accessToken: Secret, endpoint: String) async throws -> String? {
        var request = HTTPClientRequest(url: endpoint)
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken.value)")
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request)
        guard status == 200 else { throw Self.classify(status: status, body: body) }
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return json?["sub"] as? String ?? (json?["sub"] as? NSNumber)?.stringValue
    }

    // MARK: Discovery

    /// Reads `{issuer}/.well-known/openid-configuration` and returns the endpoints; the document's
    /// `issuer` must equal `issuer`.
    public func discover(issuer: String) async throws -> ResolvedEndpoints {
        let trimmed = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        var request = HTTPClientRequest(url: trimmed + "/.well-known/openid-configuration")
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request)
        guard status == 200 else {
            throw UpstreamError(.misconfigured, message: "OIDC discovery at \(trimmed) answered HTTP \(status)", httpStatus: status)
        }
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw UpstreamError(.misconfigured, message: "the OIDC discovery document of \(trimmed) is not a JSON object")
        }
        guard let docIssuer = json["issuer"] as? String, docIssuer == issuer || docIssuer == trimmed else {
            throw UpstreamError(.misconfigured, message: "the discovery document's issuer does not match \(issuer)")
        }
        guard let authorize = json["authorization_endpoint"] as? String, let token = json["token_endpoint"] as? String else {
            throw UpstreamError(.misconfigured, message: "the discovery document of \(trimmed) lacks authorization or token endpoint")
        }
        let grantTypes = json["grant_types_supported"] as? [String]
        return ResolvedEndpoints(issuer: docIssuer, authorizationEndpoint: authorize, tokenEndpoint: token,
                                 revocationEndpoint: json["revocation_endpoint"] as? String,
                                 userinfoEndpoint: json["userinfo_endpoint"] as? String,
                                 supportsRefresh: grantTypes?.contains("refresh_token") ?? true)
    }

    // MARK: HTTP

    func post(_ url: String, form: [(String, String)], access: ProviderAccess, timeout: TimeAmount? = nil) async throws -> (Int, Data) {
        var form = form
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let p = access.provider
        switch p.authMethod {
        case .clientSecretBasic:
            // RFC 6749 §2.3.1: id and secret are each form-urlencoded before Basic encoding.
            let pair = FormEncoding.encodeComponent(p.clientID) + ":" + FormEncoding.encodeComponent(access.clientSecret?.value ?? "")
            request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        case .clientSecretPost:
            form.append(("client_id", p.clientID))
            form.append(("client_secret", access.clientSecret?.value ?? ""))
        case .none:
            form.append(("client_id", p.clientID))
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        return try await send(request, timeout: timeout)
    }

    func send(_ request: HTTPClientRequest, timeout: TimeAmount? = nil) async throws -> (Int, Data) {
        let timeout = timeout ?? self.timeout
        do {
            let response = try await http.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            return (Int(response.status.code), Data(bytes))
        } catch let error as HTTPClientError {
            switch error {
            case .connectTimeout:
                throw UpstreamError(.transient, message: "could not connect to the upstream in time")
            case .getConnectionFromPoolTimeout:
                throw UpstreamError(.transient, message: "no connection to the upstream became free in time")
            case .deadlineExceeded, .readTimeout:
                throw UpstreamError(.transient, message: "the upstream did not answer within \(timeout.nanoseconds / 1_000_000) ms",
                                    mayHaveReachedUpstream: true)
            default:
                throw Self.transportFailure(error)
            }
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw UpstreamError(.transient, message: "the upstream answer exceeds \(Self.maxResponseBytes) bytes", mayHaveReachedUpstream: true)
        } catch {
            throw Self.transportFailure(error)
        }
    }

    /// A transport failure; one that happened after connecting may have let the request through.
    static func transportFailure(_ error: Error) -> UpstreamError {
        let short = shortDescription(error)
        let beforeSending = ["connection refused", "no route to host", "network is unreachable", "host is down", "name resolution",
                             "certificate", "tls"].contains(short)
        return UpstreamError(.transient, message: "the upstream call failed (\(short))", mayHaveReachedUpstream: !beforeSending)
    }

    /// A short, balanced description of a transport error ("connection refused", "connection reset", ...).
    static func shortDescription(_ error: Error) -> String {
        let text = String(describing: error).lowercased()
        for known in ["connection refused", "connection reset", "timed out", "no route to host", "network is unreachable",
                      "host is down", "broken pipe", "certificate", "name resolution", "remote connection closed", "tls"] where text.contains(known) {
            return known
        }
        return "transport error"
    }

    /// Error codes that mean the grant is dead: the user must authorize again. RFC 6749's `invalid_grant`, GitHub's
    /// `bad_refresh_token` / `bad_verification_code` (sent with HTTP 200), Entra's `interaction_required`,
    /// `consent_required`, `login_required` on refresh, Slack's `invalid_refresh_token`, `token_revoked`, `token_expired`.
    static let grantDeadCodes: Set<String> = [
        "invalid_grant", "bad_refresh_token", "bad_verification_code", "interaction_required", "consent_required", "login_required",
        "invalid_refresh_token", "token_revoked", "token_expired",
    ]
    /// Error codes that mean Tollgate's client or request is refused: the provider is misconfigured. RFC 6749's
    /// `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, `invalid_request`; GitHub's
    /// `incorrect_client_credentials` and `redirect_uri_mismatch`; Slack's `invalid_client_id` and `bad_client_secret`.
    static let misconfiguredCodes: Set<String> = [
        "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request",
        "incorrect_client_credentials", "redirect_uri_mismatch", "invalid_client_id", "bad_client_secret",
    ]
    /// Error codes that say "later": RFC 6749's `temporarily_unavailable`, RFC 8628's `slow_down`, Slack's `ratelimited`.
    static let transientCodes: Set<String> = ["temporarily_unavailable", "slow_down", "ratelimited"]

    /// Whether a 200 answer is an error object: `error` without `access_token`, or Slack's `"ok": false`.
    static func isErrorObject(_ body: Data) -> Bool {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
        if let ok = json["ok"] as? Bool, !ok { return true }
        return json["error"] is String && json["access_token"] == nil && json["accessToken"] == nil
    }

    /// Classifies a token-endpoint error by what it says (RFC 6749 §5.2 and the providers' own conventions), never by
    /// its status alone: a dead grant, a misconfigured provider, or transient. An answer without an error code is
    /// judged by its status: 429, 408 and 5xx are transient; to a refresh (`refreshing`), a 400, 401 or 403 without a
    /// code is a dead grant (Glewlwyd answers a revoked refresh token with an empty 400). Anything else that cannot be
    /// classified is transient, and so backed off, with what it said kept in the message.
    static func classify(status: Int, body: Data, refreshing: Bool = false) -> UpstreamError {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let code = (json?["error"] as? String).map { UpstreamError.sanitize($0, limit: 60) }
        let description = (json?["error_description"] as? String).map { UpstreamError.sanitize($0) }
        let evidence = body.isEmpty ? "an empty body" : json == nil ? "a body that is not JSON (\(body.count) bytes)" : "no error code"
        let message = description ?? code ?? "HTTP \(status) with \(evidence)"
        func error(_ kind: UpstreamError.Kind) -> UpstreamError { UpstreamError(kind, upstreamCode: code, message: message, httpStatus: status) }
        if status == 429 || status >= 500 || status == 408 { return error(.transient) }
        switch code {
        case let code? where grantDeadCodes.contains(code): return error(.invalidGrant)
        case let code? where misconfiguredCodes.contains(code): return error(.misconfigured)
        case let code? where transientCodes.contains(code): return error(.transient)
        case nil where refreshing && [400, 401, 403].contains(status): return error(.invalidGrant)
        default: return error(.transient)
        }
    }
}
