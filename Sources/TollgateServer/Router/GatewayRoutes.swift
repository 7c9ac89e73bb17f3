import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import TollgateCore

extension TollgateHTTPServer {
    /// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1), plus the ones the
    /// gateway sets itself.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "authorization", "cookie",
    ]

    func addGatewayRoutes(to router: Router<BasicRequestContext>) {
        for path in ["/mcp/:slug", "/mcp/:slug/**"] {
            for method in [HTTPRequest.Method.get, .post, .delete, .put, .patch, .head, .options] {
                router.on(RouterPath(path), method: method) { request, context in
                    await self.gateway(request, slug: context.parameters.get("slug") ?? "",
                                       suffix: context.parameters.getCatchAll().joined(separator: "/"))
                }
            }
        }
    }

    /// The header names a `Connection` header lists (RFC 9110 §7.6.1), lowercased; none without the header.
    static func connectionOptions(_ value: String?) -> Set<String> {
        guard let value, !value.isEmpty else { return [] }
        return Set(value.lowercased().split(separator: ",").compactMap { option in
            guard let first = option.firstIndex(where: { !$0.isWhitespace }), let last = option.lastIndex(where: { !$0.isWhitespace }) else { return nil }
            return String(option[first...last])
        })
    }

    /// 401 with the challenge that points MCP clients at the protected-resource metadata.
    func unauthorized(_ slug: String, _ description: String) -> Response {
        let challenge = "Bearer error=\"invalid_token\", error_description=\"\(description.replacingOccurrences(of: "\"", with: "'"))\", "
            + "resource_metadata=\"\(urls.protectedResourceMetadata(slug))\""
        var response = Responses.json(["error": "invalid_token", "error_description": description], status: .unauthorized)
        response.headers[.wwwAuthenticate] = challenge
        return response
    }

    func gateway(_ request: Request, slug: String, suffix: String) async -> Response {
        let started = ContinuousClock.now
        let access: ValidatedAccess
        let upstreamToken: Secret
        do {
            access = try tollgate.tokens.validate(accessToken: request.bearerToken, serverSlug: slug)
            upstreamToken = try await tollgate.tokens.upstreamAccessToken(for: access)
        } catch let error as OAuthError where error.code == .invalidToken {
            if (try? tollgate.store.server(slug: slug)) == nil {
                return Responses.json(["error": "not_found", "error_description": "no such MCP server"], status: .notFound)
            }
            return unauthorized(slug, error.errorDescription)
        } catch let error as OAuthError where error.code == .temporarilyUnavailable {
            var response = Responses.json(["error": "temporarily_unavailable", "error_description": error.errorDescription],
                                          status: .serviceUnavailable)
            response.headers[.retryAfter] = "5"
            return response
        } catch {
            let e = internalError(error, "gateway")
            var response = Responses.json(["error": e.code.rawValue, "error_description": e.errorDescription],
                                          status: e.code == .temporarilyUnavailable ? .serviceUnavailable : .internalServerError)
            if e.code == .temporarilyUnavailable { response.headers[.retryAfter] = "5" }
            return response
        }
        return await forward(request, to: access.upstreamMCPURL, slug: slug, suffix: suffix, upstreamToken: upstreamToken, started: started)
    }

    /// Forwards `request` to the server's upstream MCP URL (plus `suffix` and the query) with the upstream bearer,
    /// streaming the answer back.
    func forward(_ request: Request, to upstreamMCPURL: String, slug: String, suffix: String, upstreamToken: Secret,
                 started: ContinuousClock.Instant) async -> Response {
        var target = upstreamMCPURL
        if !suffix.isEmpty { target += (target.hasSuffix("/") ? "" : "/") + suffix }
        if let query = request.uri.query, !query.isEmpty { target += "?" + query }
        var outbound = HTTPClientRequest(url: target)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let connectionListed = Self.connectionOptions(request.headers[.connection])
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || connectionListed.contains(name) { continue }
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        outbound.headers.add(name: "Authorization", value: "Bearer \(upstreamToken.value)")
        do {
            let body = try await request.body.collect(upTo: configuration.maxBodyBytes)
            if body.readableBytes > 0 { outbound.body = .bytes(body) }
        } catch {
            return Responses.json(["error": "request_too_large"], status: .contentTooLarge)
        }
        let response: HTTPClientResponse
        do {
            response = try await gatewayClient.execute(outbound, timeout: .milliseconds(Int64(configuration.gatewayTimeout * 1000)))
        } catch {
            logger.warning("gateway: backend unreachable", metadata: ["server": "\(slug)", "error": "\(UpstreamErrorText.clip(String(describing: error), 120))"])
            metrics.gateway(server: slug, status: 502, seconds: (ContinuousClock.now - started).seconds)
            return Responses.json(["error": "bad_gateway", "error_description": "the MCP server did not answer"], status: .badGateway)
        }
        var headers = HTTPFields()
        let responseListed = Self.connectionOptions(response.headers.first(name: "connection"))
        for (name, value) in response.headers {
            guard let fieldName = HTTPField.Name(name) else { continue }
            let lower = fieldName.canonicalName
            if Self.hopByHop.contains(lower) || responseListed.contains(lower) || lower == "set-cookie" { continue }
            headers.append(HTTPField(name: fieldName, value: value))
        }
        let status = Int(response.status.code)
        metrics.gateway(server: slug, status: status, seconds: (ContinuousClock.now - started).seconds)
        let isStream = (response.headers.first(name: "content-type") ?? "").lowercased().hasPrefix("text/event-stream")
        if !isStream, let length = response.headers.first(name: "content-length").flatMap(Int.init), length <= configuration.maxBodyBytes * 8 {
            // A small, complete answer: send it with a Content-Length.
            do {
                let body = try await response.body.collect(upTo: length)
                return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
            } catch {
                return Responses.json(["error": "bad_gateway", "error_description": "the MCP server's answer was cut short"], status: .badGateway)
            }
        }
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(asyncSequence: response.body))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
