import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore

extension TollgateHTTPServer {
    func addGatewayRoutes(to router: Router<TollgateRequestContext>) {
        for path in ["/mcp/:slug", "/mcp/:slug/**"] {
            for method in [HTTPRequest.Method.get, .post, .delete, .put, .patch, .head, .options] {
                router.on(RouterPath(path), method: method) { request, context in
                    await self.gateway(request, slug: context.parameters.get("slug") ?? "",
                                       suffix: context.parameters.getCatchAll().joined(separator: "/"), peer: context.remoteAddress)
                }
            }
        }
    }

    /// 401 with the challenge that points MCP clients at the protected-resource metadata.
    func unauthorized(_ slug: String, _ description: String) -> Response {
        let challenge = "Bearer error=\"invalid_token\", error_description=\"\(description.replacingOccurrences(of: "\"", with: "'"))\", "
            + "resource_metadata=\"\(urls.protectedResourceMetadata(slug))\""
        var response = Responses.json(["error": "invalid_token", "error_description": description], status: .unauthorized)
        response.headers[.wwwAuthenticate] = challenge
        return response
    }

    /// Forwards an MCP request; `peer` (the client's address) is only read for `--forwarded-headers set`.
    func gateway(_ request: Request, slug: String, suffix: String, peer: @autoclosure () -> SocketAddress?) async -> Response {
        let started = ContinuousClock.now
        let access: ValidatedAccess
        let upstreamToken: Secret
        do {
            access = try await tollgate.tokens.validate(accessToken: request.bearerToken, serverSlug: slug)
            upstreamToken = try await tollgate.tokens.upstreamAccessToken(for: access)
        } catch let error as OAuthError where error.code == .invalidToken {
            if await (try? tollgate.store.server(slug: slug)) == nil {
                return Responses.json(["error": "not_found", "error_description": "no such MCP server"], status: .notFound)
            }
            return unauthorized(slug, error.errorDescription)
        } catch {
            // 503 + Retry-After for a transient upstream or store failure, 500 without internals otherwise.
            return Responses.oauthError(internalError(error, "gateway"))
        }
        let vouched = configuration.forwardedHeaders == .set ? ForwardedHeaders(peer: peer(), publicBaseURL: urls.base) : nil
        return await forwarder.forward(request, to: access.upstreamMCPURL, suffix: suffix, bearer: upstreamToken.value, forwardedHeaders: vouched,
                                         logMetadata: ["server": "\(slug)"]) { status in
            metrics.gateway(server: slug, status: status, seconds: (ContinuousClock.now - started).seconds)
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
