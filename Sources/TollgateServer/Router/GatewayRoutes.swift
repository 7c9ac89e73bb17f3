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
                                       suffix: context.parameters.getCatchAll().joined(separator: "/"), note: context.accessNote,
                                       peer: context.remoteAddress)
                }
            }
        }
    }

    /// 401 with the challenge that points MCP clients at the protected-resource metadata and names the server's
    /// scopes (so a client knows what to ask for).
    func unauthorized(_ server: Server, _ description: String) -> Response {
        var challenge = "Bearer error=\"invalid_token\", error_description=\"\(description.replacingOccurrences(of: "\"", with: "'"))\", "
            + "resource_metadata=\"\(urls.protectedResourceMetadata(server.slug))\""
        if !server.scopes.isEmpty { challenge += ", scope=\"\(server.scopes.joined(separator: " "))\"" }
        var response = Responses.json(["error": "invalid_token", "error_description": description], status: .unauthorized)
        response.headers[.wwwAuthenticate] = challenge
        return response
    }

    /// Forwards an MCP request; `peer` (the client's address) is only read for `--forwarded-headers set`.
    ///
    /// Order: the `Origin` check first (a browser request from an origin the server does not admit gets 403, its
    /// preflight included), then the proxy token, then the upstream token, then the forward. Every 401, 403 and
    /// 503 records its refusal (``recordRefusal(_:description:request:note:)``).
    func gateway(_ request: Request, slug: String, suffix: String, note: AccessNote, peer: @autoclosure () -> SocketAddress?) async -> Response {
        let started = ContinuousClock.now
        let origin = request.headers[.origin]
        var server: Server?
        if let origin {
            // Only browsers send Origin: native clients pay nothing for this lookup.
            do {
                server = try await tollgate.store.server(slug: slug)
            } catch {
                let oauth = internalError(error, "gateway")
                recordRefusal(oauth, request: request, note: note)
                return Responses.oauthError(oauth)
            }
            guard let found = server else { return Self.noSuchServer }
            guard found.policy.admits(originHeader: origin, publicOrigin: urls.origin) else {
                recordRefusal(Refusal(.originRefused, serverID: found.id), description: "the browser origin is not allowed", request: request, note: note)
                return GatewayCORS.refused()
            }
            if request.method == .options, request.headers[.accessControlRequestMethod] != nil { return GatewayCORS.preflight(origin: origin) }
        }
        var response = await authorizeAndForward(request, slug: slug, server: server, suffix: suffix, note: note, peer: peer(), started: started)
        if let origin { GatewayCORS.allow(&response, origin: origin) }
        return response
    }

    static var noSuchServer: Response {
        Responses.json(["error": "not_found", "error_description": "no such MCP server"], status: .notFound)
    }

    /// The proxy token, the upstream token, the forward.
    private func authorizeAndForward(_ request: Request, slug: String, server: Server?, suffix: String, note: AccessNote,
                                     peer: @autoclosure () -> SocketAddress?, started: ContinuousClock.Instant) async -> Response {
        let access: ValidatedAccess
        let upstreamToken: Secret
        do {
            access = try await tollgate.tokens.validate(accessToken: request.bearerToken, serverSlug: slug)
            upstreamToken = try await tollgate.tokens.upstreamAccessToken(for: access)
        } catch let error as OAuthError where error.code == .invalidToken {
            var known = server
            if known == nil { known = try? await tollgate.store.server(slug: slug) }
            guard let known else { return Self.noSuchServer }
            recordRefusal(error, request: request, note: note)
            return unauthorized(known, error.errorDescription)
        } catch {
            // 503 + Retry-After for a transient upstream or store failure, 500 without internals otherwise.
            let oauth = internalError(error, "gateway")
            recordRefusal(oauth, request: request, note: note)
            return Responses.oauthError(oauth)
        }
        note.note(grantID: access.grant.id, clientID: access.grant.clientID)
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
