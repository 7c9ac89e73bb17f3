import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TollgateCore

/// `tollgate dev-upstream`: a small development OAuth provider for tests and the demo.
///
/// Authorization code + PKCE with auto-approval (the user is `login_hint`, the `X-Dev-User` header, or
/// `dev-user`), refresh with or without rotation, a configurable access-token lifetime, failure injection
/// for refresh, OIDC discovery, userinfo, revocation, and counters under `GET /_dev/stats`.
public final class DevUpstream: Sendable {
    public let state: DevUpstreamState
    let host: String
    let port: Int
    let logger: Logger

    public init(host: String = "127.0.0.1", port: Int = 9000, state: DevUpstreamState = DevUpstreamState(),
                logger: Logger = Logger(label: "tollgate.dev-upstream")) {
        self.host = host
        self.port = port
        self.state = state
        self.logger = logger
    }

    /// Runs until the task is cancelled (or SIGINT/SIGTERM with `handleSignals`); `onRunning` gets the bound port.
    public func run(handleSignals: Bool = false, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: "tollgate-dev-upstream"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        if handleSignals {
            try await app.runService()
        } else {
            try await app.runService(gracefulShutdownSignals: [])
        }
    }

    /// Starts in a background task and returns once it listens, with its base URL and the task to cancel.
    public func start() async throws -> (baseURL: String, task: Task<Void, Error>) {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await self.run(onRunning: { continuation.yield($0); continuation.finish() }) }
        var port = 0
        for await p in stream { port = p }
        guard port > 0 else { task.cancel(); throw TollgateError(.upstream, "the dev upstream did not start") }
        return ("http://\(host):\(port)", task)
    }

    func baseURL(_ request: Request) -> String {
        "http://\(request.head.authority ?? "\(host):\(port)")"
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let state = self.state
        router.get("/.well-known/openid-configuration") { request, _ in self.discovery(self.baseURL(request)) }
        router.get("/.well-known/oauth-authorization-server") { request, _ in self.discovery(self.baseURL(request)) }
        router.get("/authorize") { request, _ in await self.authorize(request) }
        router.post("/token") { request, _ in try await self.token(request) }
        router.post("/revoke") { request, _ in
            let form = try await Self.form(request)
            if let token = form["token"] { await state.revoke(token) }
            return Response(status: .ok)
        }
        router.get("/userinfo") { request, _ in
            let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard let bearer, let subject = await state.userinfo(bearer) else {
                return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
            }
            return Self.json(["sub": subject])
        }
        // A toy MCP endpoint for the demo: answers any JSON-RPC request with who the bearer is, so the
        // gateway can be tried end to end (`tools/call whoami`).
        router.post("/mcp") { request, _ in
            let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard let bearer, let subject = await state.userinfo(bearer) else {
                return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
            }
            // Streamable HTTP: a protocol version this server does not speak is a 400 (none given: the oldest, 2025-03-26).
            if let version = request.headers[Self.protocolVersionHeader], !Self.supportedProtocolVersions.contains(version) {
                return Self.json(data: Data(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"unsupported MCP-Protocol-Version"}}"#.utf8),
                                 status: .badRequest)
            }
            let body = try await request.body.collect(upTo: 65536)
            let id = JSONValue.object(from: Data(buffer: body))?["id"]
            let idJSON: String = switch id {
            case .number(let n)?: String(Int(n))
            case .string(let s)?: "\"\(s.filter { $0.isLetter || $0.isNumber || $0 == "-" })\""
            default: "null"
            }
            let safe = subject.filter { $0.isLetter || $0.isNumber || "-_.@".contains($0) }
            return Self.json(data: Data(#"{"jsonrpc":"2.0","id":\#(idJSON),"result":{"content":[{"type":"text","text":"you are \#(safe)"}]}}"#.utf8))
        }
        router.get("/_dev/stats") { _, _ in
            Self.json(data: (try? JSONEncoder().encode(await state.stats)) ?? Data("{}".utf8))
        }
        router.post("/_dev/config") { request, _ in
            let body = try await request.body.collect(upTo: 65536)
            guard let b = try? JSONDecoder().decode(DevUpstreamBehaviour.self, from: Data(buffer: body)) else {
                return Self.json(["error": "invalid_request"], status: .badRequest)
            }
            await state.setBehaviour(b)
            return Self.json(data: (try? JSONEncoder().encode(b)) ?? Data())
        }
        router.get("/_dev/config") { _, _ in
            Self.json(data: (try? JSONEncoder().encode(await state.behaviour)) ?? Data())
        }
        router.post("/_dev/revoke-subject") { request, _ in
            let form = try await Self.form(request)
            guard let subject = form["subject"] else { return Self.json(["error": "invalid_request"], status: .badRequest) }
            await state.revokeAll(subject: subject)
            return Response(status: .ok)
        }
        return router
    }

    func discovery(_ base: String) -> Response {
        Self.json(data: (try? JSONSerialization.data(withJSONObject: [
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "revocation_endpoint": base + "/revoke",
            "userinfo_endpoint": base + "/userinfo",
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "scopes_supported": ["openid", "profile", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        ], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    func authorize(_ request: Request) async -> Response {
        let q = Dictionary(FormEncoding.decode(request.uri.query ?? ""), uniquingKeysWith: { first, _ in first })
        guard let redirect = q["redirect_uri"], let clientID = q["client_id"] else {
            return Self.json(["error": "invalid_request", "error_description": "client_id and redirect_uri are required"], status: .badRequest)
        }
        guard clientID == (await state.client.clientID) else {
            return Self.json(["error": "invalid_client"], status: .badRequest)
        }
        guard q["response_type"] == "code" else {
            return Response(status: .found, headers: [.location: URLQuery.appending([("error", "unsupported_response_type"), ("state", q["state"])], to: redirect)])
        }
        if let denied = q["dev_error"] {
            return Response(status: .found, headers: [.location: URLQuery.appending([("error", denied), ("error_description", "injected by dev upstream"), ("state", q["state"])], to: redirect)])
        }
        let subject = q["login_hint"] ?? request.headers[HTTPField.Name("X-Dev-User")!] ?? "dev-user"
        let code = await state.newCode(subject: subject, scope: q["scope"] ?? "openid", redirectURI: redirect,
                                       challenge: q["code_challenge"], clientID: clientID, nonce: q["nonce"])
        // RFC 9207: the issuer rides along with the code (a test may make it lie).
        let issuer = await state.behaviour.authorizationResponseIssuer ?? baseURL(request)
        return Response(status: .found, headers: [.location: URLQuery.appending([("code", code), ("state", q["state"]), ("iss", issuer)], to: redirect)])
    }

    func token(_ request: Request) async throws -> Response {
        let formPairs = FormEncoding.decode(String(buffer: try await request.body.collect(upTo: 65536)))
        let form = Dictionary(formPairs, uniquingKeysWith: { first, _ in first })
        let authorization = request.headers[.authorization]
        await state.recordTokenRequest(authorization: authorization, fields: formPairs.map(\.0))
        let behaviour = await state.behaviour
        if behaviour.tokenDelay > 0 {
            try? await Task.sleep(nanoseconds: UInt64(behaviour.tokenDelay * 1_000_000_000))
        }
        guard await authenticate(authorization: authorization, form: form) else {
            return Self.json(["error": "invalid_client", "error_description": "client authentication failed"], status: .unauthorized)
        }
        switch form["grant_type"] {
        case "authorization_code":
            await state.noteCodeExchange()
            guard let codeValue = form["code"], let code = await state.takeCode(codeValue),
                  code.redirectURI == form["redirect_uri"] else {
                return Self.json(["error": "invalid_grant", "error_description": "bad code or redirect_uri"], status: .badRequest)
            }
            if let challenge = code.challenge {
                guard let verifier = form["code_verifier"], TokenGenerator.s256Challenge(of: verifier) == challenge else {
                    return Self.json(["error": "invalid_grant", "error_description": "PKCE verification failed"], status: .badRequest)
                }
            }
            let issued = await state.issueTokens(subject: code.subject, scope: code.scope)
            return tokenResponse(access: issued.access, refresh: issued.refresh, scope: code.scope, subject: code.subject,
                                 nonce: behaviour.idTokenNonce ?? code.nonce, behaviour: behaviour)
        case "refresh_token":
            let presented = form["refresh_token"] ?? ""
            let record = await state.refreshToken(presented)
            await state.noteRefresh(subject: record?.subject)
            switch behaviour.refreshFailure {
            case "invalid_grant"?:
                return Self.json(["error": "invalid_grant", "error_description": "injected"], status: .badRequest)
            case "invalid_client"?:
                return Self.json(["error": "invalid_client", "error_description": "injected"], status: .unauthorized)
            case "http500"?:
                return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "<html>upstream exploded</html>")))
            case "http429"?:
                return Response(status: .tooManyRequests, headers: [.retryAfter: "5"])
            case "malformed"?:
                return Self.json(data: Data("{\"access_token\": ".utf8))
            // GitHub answers token errors with HTTP 200 (docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
            // refreshing-user-access-tokens; "Troubleshooting OAuth app access token request errors").
            case "github_bad_refresh_token"?:
                return Self.json(["error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."])
            case "github_incorrect_client_credentials"?:
                return Self.json(["error": "incorrect_client_credentials",
                                  "error_description": "The client_id and/or client_secret passed are incorrect."])
            // Slack Web API convention: HTTP 200 with "ok": false (docs.slack.dev/authentication/using-token-rotation).
            case "slack_invalid_refresh_token"?:
                return Self.json(data: Data(#"{"ok":false,"error":"invalid_refresh_token"}"#.utf8))
            // Entra on refresh when the user must sign in again (learn.microsoft.com: AADSTS50076 / interaction_required).
            case "entra_interaction_required"?:
                return Self.json(["error": "interaction_required", "error_description": "AADSTS50076: multi-factor authentication required."],
                                 status: .badRequest)
            // Glewlwyd 2.7.5 (Debian) answers a revoked refresh token with 400 and an empty body (observed).
            case "empty400"?:
                return Response(status: .badRequest)
            // Something no convention explains.
            case "unclassifiable"?:
                return Self.json(["error": "teapot"], status: HTTPResponse.Status(code: 418))
            default: break
            }
            guard let record, !record.revoked, !(record.used && behaviour.rotateRefreshTokens) else {
                return Self.json(["error": "invalid_grant", "error_description": "unknown, used or revoked refresh token"], status: .badRequest)
            }
            var refreshOut: String?
            if behaviour.rotateRefreshTokens {
                await state.markUsed(presented)
                refreshOut = await state.issueTokens(subject: record.subject, scope: record.scope).refresh
            }
            let access = await state.issueTokens(subject: record.subject, scope: record.scope).access
            return tokenResponse(access: access, refresh: refreshOut, scope: record.scope, subject: nil, behaviour: behaviour)
        default:
            return Self.json(["error": "unsupported_grant_type"], status: .badRequest)
        }
    }

    func authenticate(authorization: String?, form: [String: String]) async -> Bool {
        let client = await state.client
        var id: String?
        var secret: String?
        if let authorization, authorization.hasPrefix("Basic "),
           let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
           let colon = decoded.firstIndex(of: ":") {
            id = FormEncoding.decodeComponent(String(decoded[..<colon]))
            secret = FormEncoding.decodeComponent(String(decoded[decoded.index(after: colon)...]))
            if client.authMethod != .clientSecretBasic { return false }
        } else {
            id = form["client_id"]
            secret = form["client_secret"]
            if client.authMethod == .clientSecretBasic { return false }
            if client.authMethod == .none && secret != nil { return false }
        }
        guard id == client.clientID else { return false }
        return client.authMethod == .none || secret == client.clientSecret
    }

    func tokenResponse(access: String, refresh: String?, scope: String, subject: String?, nonce: String? = nil,
                       behaviour: DevUpstreamBehaviour) -> Response {
        let camel = behaviour.responseStyle == "camel"
        var o: [String: Any] = [camel ? "accessToken" : "access_token": access, camel ? "tokenType" : "token_type": "Bearer", "scope": scope]
        switch behaviour.expiresInAs {
        case "string": o[camel ? "expiresIn" : "expires_in"] = String(behaviour.accessTTL)
        case "omit": break
        default: o[camel ? "expiresIn" : "expires_in"] = behaviour.accessTTL
        }
        if let refresh { o[camel ? "refreshToken" : "refresh_token"] = refresh }
        if let r = behaviour.refreshExpiresIn { o[camel ? "refreshExpiresIn" : "refresh_expires_in"] = r }
        if let subject {
            let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedString()
            var claims: [String: Any] = ["sub": subject, "iat": Int(Date().timeIntervalSince1970)]
            if let nonce { claims["nonce"] = nonce }
            let payload = ((try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])) ?? Data()).base64URLEncodedString()
            o[camel ? "idToken" : "id_token"] = "\(header).\(payload)."
        }
        var r = Self.json(data: (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data())
        r.headers[.cacheControl] = "no-store"
        return r
    }

    static func form(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 65536)
        return Dictionary(FormEncoding.decode(String(buffer: body)), uniquingKeysWith: { first, _ in first })
    }

    /// The header in which MCP clients name the protocol revision they speak.
    static let protocolVersionHeader = HTTPField.Name("MCP-Protocol-Version")!
    /// The MCP protocol revisions the toy MCP endpoint answers.
    static let supportedProtocolVersions: Set<String> = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]

    static func json(_ object: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        json(data: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), status: status)
    }

    static func json(data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
