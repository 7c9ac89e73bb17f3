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
    /// scopes (so a client knows what to ask for), those only tools need left for step-up
    /// (``ScopeRules/initialScopes(of:)``).
    func unauthorized(_ server: Server, _ description: String) -> Response {
        var challenge = "Bearer error=\"invalid_token\", error_description=\"\(description.replacingOccurrences(of: "\"", with: "'"))\", "
            + "resource_metadata=\"\(urls.protectedResourceMetadata(server.slug))\""
        let scopes = server.policy.scopeRules.initialScopes(of: server.scopes)
        if !scopes.isEmpty { challenge += ", scope=\"\(scopes.joined(separator: " "))\"" }
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

    /// The proxy token, the scope check (servers with scope rules only), the upstream token, the forward.
    private func authorizeAndForward(_ request: Request, slug: String, server: Server?, suffix: String, note: AccessNote,
                                     peer: @autoclosure () -> SocketAddress?, started: ContinuousClock.Instant) async -> Response {
        let access: ValidatedAccess
        let upstreamToken: Secret
        var body: ByteBuffer?
        do {
            access = try await tollgate.tokens.validate(accessToken: request.bearerToken, serverSlug: slug)
            if access.scopeRules.requiresScopes {
                // Only servers with rules read the body here; the forwarder then sends this buffer. Only the transport's
                // methods pass, and only a POST may carry a body: a `tools/call` in a PUT or a GET must not slip past.
                let limit = min(GatewayScopeCheck.maximumBodyBytes, forwarder.maxBodyBytes)
                let collected: ByteBuffer
                do { collected = try await request.body.collect(upTo: limit) } catch {
                    return Responses.json(["error": "request_too_large",
                                           "error_description": "a call to this server may be at most \(limit) bytes"], status: .contentTooLarge)
                }
                body = collected
                let refusal = request.method == .post
                    ? GatewayScopeCheck.refusal(body: collected, headers: request.headers, rules: access.scopeRules, granted: access.scopes,
                                                resourceMetadata: urls.protectedResourceMetadata(slug))
                    : GatewayScopeCheck.refusal(method: request.method, bodyBytes: collected.readableBytes)
                if let refusal {
                    metrics.gateway(server: slug, status: Int(refusal.status.code), seconds: (ContinuousClock.now - started).seconds)
                    let scopeMissing = refusal.status == .forbidden
                    recordRefusal(Refusal(scopeMissing ? .insufficientScope : .invalidRequest, of: access.grant),
                                  description: scopeMissing ? "the call needs a scope the grant lacks" : "the MCP request was refused before forwarding",
                                  request: request, note: note)
                    return refusal
                }
            }
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
        return await forwarder.forward(request, body: body, to: access.upstreamMCPURL, suffix: suffix, bearer: upstreamToken.value, forwardedHeaders: vouched,
                                         logMetadata: ["server": "\(slug)"],
                                         onRefusedToken: { await self.remedy(access, refused: upstreamToken, slug: slug, server: server, request: request, note: note) }) { status in
            metrics.gateway(server: slug, status: status, seconds: (ContinuousClock.now - started).seconds)
        }
    }

    /// The MCP server refused the upstream token a request was forwarded with: a reactive refresh and one retry, or the
    /// gateway's own 401 (the upstream authorization is gone) or 503 (try again), never the backend's 401 while a
    /// refresh may still save the session (``TokenService/remedyForRefusedUpstreamToken(_:refused:)``).
    private func remedy(_ access: ValidatedAccess, refused: Secret, slug: String, server: Server?, request: Request, note: AccessNote) async -> BackendRefusalDecision {
        do {
            switch try await tollgate.tokens.remedyForRefusedUpstreamToken(access, refused: refused) {
            case .retry(let token): return .retry(bearer: token.value)
            case .passThrough: return .passThrough
            }
        } catch let error as OAuthError where error.code == .invalidToken {
            var known = server
            if known == nil { known = try? await tollgate.store.server(slug: slug) }
            guard let known else { return .answer(Self.noSuchServer) }
            recordRefusal(error, request: request, note: note)
            return .answer(unauthorized(known, error.errorDescription))
        } catch {
            let oauth = internalError(error, "gateway")
            recordRefusal(oauth, request: request, note: note)
            return .answer(Responses.oauthError(oauth))
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
