import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Forwards one MCP request to a backend and streams its answer back: the gateway's transport half, with
/// no knowledge of tokens. `tollgate serve` uses it after validating the bearer; the gateway benchmark runs
/// it bare (no store, no authorization) to measure what the HTTP libraries themselves cost.
public struct GatewayForwarder: Sendable {
    /// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1), plus the ones the
    /// forwarder sets itself.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "authorization", "cookie",
    ]

    let client: HTTPClient
    let maxBodyBytes: Int
    let timeout: TimeInterval
    let logger: Logger

    /// - Parameters:
    ///   - timeout: the time the backend has to start answering; it also bounds the wait for a pooled connection.
    public init(maxBodyBytes: Int, timeout: TimeInterval, logger: Logger) {
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                            // The connect timeout also bounds the wait for a pooled connection
                                            // under load: give it the whole gateway budget.
                                            timeout: .init(connect: .milliseconds(Int64(timeout * 1000)), read: nil),
                                            connectionPool: .init(idleTimeout: .seconds(60)))
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 128
        http.decompression = .disabled
        // No tracer: AHC would otherwise open a (no-op) span with its attributes for every forwarded request.
        http.tracing.tracer = nil
        // A forwarded request's head and body leave in one segment (AHC flushes each part).
        http.http1_1ConnectionDebugInitializer = { channel in
            channel.eventLoop.submit {
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(RequestHeadFlushHolder(), position: .after(try pipeline.handler(type: HTTPRequestEncoder.self)))
            }
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        self.maxBodyBytes = maxBodyBytes
        self.timeout = timeout
        self.logger = logger
    }

    /// Releases the connection pool.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// The header names a `Connection` header lists (RFC 9110 §7.6.1), lowercased; none without the header.
    static func connectionOptions(_ value: String?) -> Set<String> {
        guard let value, !value.isEmpty else { return [] }
        return Set(value.lowercased().split(separator: ",").compactMap { option in
            guard let first = option.firstIndex(where: { !$0.isWhitespace }), let last = option.lastIndex(where: { !$0.isWhitespace }) else { return nil }
            return String(option[first...last])
        })
    }

    /// Forwards `request` to `upstreamMCPURL` (plus `suffix` and the query) with `bearer` as its only
    /// credential (400 for a sub-path that would leave the URL, see ``SubPathPolicy``), and answers with the
    /// backend's status, end-to-end headers and body (collected when small and complete, streamed otherwise,
    /// e.g. `text/event-stream`). The client's forwarding headers (``ForwardedHeaders/names``) are never
    /// passed on; `forwardedHeaders`, when given, are set instead. `body`, when given, is the request body already
    /// read (by the gateway's scope check) and is sent instead of reading the request's. `observe` receives the status once the
    /// backend's response head arrived (502 when it did not answer); `logMetadata` goes into its log lines.
    ///
    /// When the backend refuses the token (401, or 403 `invalid_token`) and `onRefusedToken` is given, its answer is
    /// held back and `onRefusedToken` decides (``BackendRefusalDecision``): the request (its body is always read first)
    /// is sent once more with a new token, or another answer is given, or the backend's is passed on.
    public func forward(_ request: Request, body: ByteBuffer? = nil, to upstreamMCPURL: String, suffix: String = "", bearer: String,
                        forwardedHeaders: ForwardedHeaders? = nil,
                        logMetadata: @autoclosure () -> Logger.Metadata = [:],
                        onRefusedToken: (() async -> BackendRefusalDecision)? = nil,
                        observe: (Int) -> Void = { _ in }) async -> Response {
        var target = upstreamMCPURL
        if !suffix.isEmpty {
            guard SubPathPolicy.staysBelow(suffix) else {
                return Responses.json(["error": "invalid_request", "error_description": "the path must stay below the MCP server's URL"],
                                      status: .badRequest)
            }
            target += (target.hasSuffix("/") ? "" : "/") + suffix
        }
        if let query = request.uri.query, !query.isEmpty { target += "?" + query }
        var outbound = HTTPClientRequest(url: target)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let connectionListed = Self.connectionOptions(request.headers[.connection])
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || connectionListed.contains(name) || ForwardedHeaders.names.contains(name) { continue }
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        for field in forwardedHeaders?.fields ?? [] { outbound.headers.add(name: field.name, value: field.value) }
        outbound.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        if let body {
            if body.readableBytes > 0 { outbound.body = .bytes(body) }
        } else {
            do {
                let body = try await request.body.collect(upTo: maxBodyBytes)
                if body.readableBytes > 0 { outbound.body = .bytes(body) }
            } catch {
                return Responses.json(["error": "request_too_large"], status: .contentTooLarge)
            }
        }
        var response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: .milliseconds(Int64(timeout * 1000)))
            if let onRefusedToken, Self.refusesToken(response) {
                // Held back until the gateway decides: read (bounded) so it can still be passed on.
                let refusedBody = (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()
                switch await onRefusedToken() {
                case .retry(let newBearer):
                    outbound.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(newBearer)")
                    response = try await client.execute(outbound, timeout: .milliseconds(Int64(timeout * 1000)))
                case .answer(let answer):
                    observe(Int(answer.status.code))
                    return answer
                case .passThrough:
                    let status = Int(response.status.code)
                    observe(status)
                    var headers = endToEndHeaders(of: response)
                    headers[.contentLength] = String(refusedBody.readableBytes)
                    return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: refusedBody))
                }
            }
        } catch {
            logger.warning("gateway: backend unreachable", metadata: logMetadata().merging(
                ["error": "\(UpstreamErrorText.clip(String(describing: error), 120))"]) { $1 })
            observe(502)
            return Responses.json(["error": "bad_gateway", "error_description": "the MCP server did not answer"], status: .badGateway)
        }
        var headers = endToEndHeaders(of: response)
        let status = Int(response.status.code)
        observe(status)
        let isStream = (response.headers.first(name: "content-type") ?? "").lowercased().hasPrefix("text/event-stream")
        // Each event must reach the client as it comes: a reverse proxy in front (nginx) is told not to buffer.
        if isStream { headers[HTTPField.Name("X-Accel-Buffering")!] = "no" }
        if !isStream, let length = response.headers.first(name: "content-length").flatMap(Int.init), length <= maxBodyBytes * 8 {
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

    /// Whether the backend refused the upstream token: 401, or 403 whose challenge says `invalid_token`.
    static func refusesToken(_ response: HTTPClientResponse) -> Bool {
        response.status.code == 401
            || (response.status.code == 403 && (response.headers.first(name: "www-authenticate") ?? "").contains("invalid_token"))
    }

    /// The backend's end-to-end response headers: no hop-by-hop header, none its `Connection` lists, no cookie.
    func endToEndHeaders(of response: HTTPClientResponse) -> HTTPFields {
        var headers = HTTPFields()
        let responseListed = Self.connectionOptions(response.headers.first(name: "connection"))
        for (name, value) in response.headers {
            guard let fieldName = HTTPField.Name(name) else { continue }
            let lower = fieldName.canonicalName
            if Self.hopByHop.contains(lower) || responseListed.contains(lower) || lower == "set-cookie" { continue }
            headers.append(HTTPField(name: fieldName, value: value))
        }
        return headers
    }
}

/// What the gateway decided about a backend that refused a forwarded request's upstream token.
public enum BackendRefusalDecision: Sendable {
    /// Send the request once more with this upstream access token; whatever the backend then answers is passed on.
    case retry(bearer: String)
    /// Answer the client with this instead (503 while the provider cannot refresh, 401 when the grant is lost).
    case answer(Response)
    /// Pass the backend's refusal on.
    case passThrough
}
