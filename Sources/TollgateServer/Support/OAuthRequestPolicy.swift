import HTTPTypes
import Hummingbird
import TollgateCore

/// The OAuth endpoints and the one method each answers, matched on the raw path the way the router splits it.
enum OAuthEndpoint {
    /// `/oauth/{slug}/{endpoint}` endpoints and their method.
    static let oauthEndpoints: [Substring: HTTPRequest.Method] = [
        "register": .post, "authorize": .get, "consent": .post, "callback": .get, "token": .post, "revoke": .post, "introspect": .post,
    ]

    /// The method the endpoint at `path` answers, or nil when `path` is no OAuth endpoint.
    static func method(for path: String) -> HTTPRequest.Method? {
        let parts = path.split(separator: "/")
        switch parts.count {
        case 3 where parts[0] == "oauth":
            return oauthEndpoints[parts[2]]
        case 4 where parts[0] == ".well-known" && parts[1] == "oauth-authorization-server" && parts[2] == "oauth",
             4 where parts[0] == ".well-known" && parts[1] == "oauth-protected-resource" && parts[2] == "mcp":
            return .get
        default:
            return nil
        }
    }

    /// Whether browser-based MCP clients may call the endpoint at `path` from another origin (CORS):
    /// discovery, registration, token and revocation. Never the consent, authorize or callback pages.
    static func allowsCrossOrigin(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        if parts.count == 3 && parts[0] == "oauth" { return ["register", "token", "revoke"].contains(parts[2]) }
        return parts.first == ".well-known" && method(for: path) != nil
    }

    /// Whether `path` belongs to the OAuth face (an endpoint, a mistyped one, a metadata document), whose
    /// every error is an RFC 6749 error object.
    static func isOAuthPath(_ path: String) -> Bool {
        path.hasPrefix("/oauth/") || path.hasPrefix("/.well-known/")
    }
}

/// In front of the OAuth endpoints: a wrong method is a 405 with `Allow` and an RFC-shaped body (not the
/// router's empty 404), and whatever error escapes a handler or the router under `/oauth/` and
/// `/.well-known/` is answered as an RFC 6749 error object, 5xx only for real faults and without internals.
struct OAuthRequestPolicy: RouterMiddleware {
    typealias Context = TollgateRequestContext
    /// Maps an unexpected error to the OAuth error to answer (logging it).
    let unexpected: @Sendable (Error) -> OAuthError

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard OAuthEndpoint.isOAuthPath(path) else { return try await next(request, context) }
        let crossOrigin = OAuthEndpoint.allowsCrossOrigin(path)
        if let allowed = OAuthEndpoint.method(for: path), request.method != allowed {
            if crossOrigin && request.method == .options { return Responses.corsPreflight(allowed: allowed) }
            return Responses.methodNotAllowed(request.method, allowed: allowed)
        }
        var response = try await answer(request, context: context, next: next)
        if crossOrigin && response.headers[.accessControlAllowOrigin] == nil {
            response.headers[.accessControlAllowOrigin] = "*"
            // A browser client must be able to read the token endpoint's challenge.
            response.headers[.accessControlExposeHeaders] = "WWW-Authenticate"
        }
        return response
    }

    private func answer(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            switch error.status.code {
            case 404: return Responses.json(["error": "not_found", "error_description": "no such endpoint"], status: .notFound)
            case 500...: return Responses.oauthError(unexpected(error))
            default: return Responses.oauthError(OAuthError(.invalidRequest, "the request is not valid: \(error.status.reasonPhrase)"),
                                                 status: error.status)
            }
        } catch {
            return Responses.oauthError(unexpected(error))
        }
    }
}

extension Responses {
    /// 204 answer to a CORS preflight: any origin, the endpoint's method, the headers MCP clients send.
    /// No credentials mode: these endpoints take no cookies.
    static func corsPreflight(allowed: HTTPRequest.Method) -> Response {
        Response(status: .noContent, headers: [
            .accessControlAllowOrigin: "*",
            .accessControlAllowMethods: "\(allowed.rawValue), OPTIONS",
            .accessControlAllowHeaders: "Authorization, Content-Type, MCP-Protocol-Version",
            .accessControlMaxAge: "86400",
        ])
    }

    /// 405 with `Allow` and an `invalid_request` error object.
    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: HTTPRequest.Method) -> Response {
        var response = oauthError(OAuthError(.invalidRequest, "method \(UpstreamErrorText.clip(method.rawValue)) is not allowed here; use \(allowed.rawValue)"),
                                  status: .methodNotAllowed)
        response.headers[.allow] = allowed.rawValue
        return response
    }

    /// An RFC 6749 §5.2 error object with an explicit status.
    static func oauthError(_ error: OAuthError, status: HTTPResponse.Status) -> Response {
        var response = oauthError(error)
        response.status = status
        return response
    }
}
