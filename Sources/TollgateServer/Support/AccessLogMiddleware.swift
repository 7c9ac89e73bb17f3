import Hummingbird
import Logging
import TollgateCore

/// Counts every request in `/metrics` and, unless `--access-log off`, writes one `request` log line per
/// request at info level: method, route template (or the path when no route matched; never the query
/// string, which carries codes and state), status, milliseconds to the response head, the server slug,
/// the grant and client when known, and the refusal reason code when refused. Never a token, code,
/// state, cookie or secret: only what handlers put in the ``AccessNote``.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let metrics: ServerMetrics
    let logger: Logger
    let enabled: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let family = Self.family(request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.request(route: family, status: response.status.code)
            if enabled { log(.info, request, context, status: response.status.code, since: start) }
            return response
        } catch {
            let status = (error as? HTTPResponseError)?.status.code ?? 500
            metrics.request(route: family, status: status)
            if enabled || status >= 500 { log(status >= 500 ? .warning : .info, request, context, status: status, since: start) }
            throw error
        }
    }

    private func log(_ level: Logger.Level, _ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        guard logger.logLevel <= level else { return }
        let note = context.accessNote.current
        var metadata: Logger.Metadata = [
            "method": "\(request.method)",
            "route": "\(context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? UpstreamErrorText.clip(request.uri.path, 200))",
            "status": "\(status)",
            "ms": "\((ContinuousClock.now - start).milliseconds)",
        ]
        if let slug = context.parameters.get("slug") { metadata["server"] = "\(UpstreamErrorText.clip(slug, 80))" }
        if let grant = note.grantID { metadata["grant"] = "\(grant)" }
        if let client = note.clientID { metadata["client"] = "\(client)" }
        if let refusal = note.refusal { metadata["refusal"] = "\(refusal.rawValue)" }
        logger.log(level: level, "request", metadata: metadata)
    }

    /// The route family a request counts under in `tollgate_http_requests_total`.
    static func family(_ path: String) -> String {
        if path.hasPrefix("/mcp/") { return "gateway" }
        if path.hasPrefix("/.well-known/") { return "well-known" }
        if path.hasPrefix("/oauth/"), let last = path.split(separator: "/").last,
           ["register", "authorize", "consent", "callback", "token", "revoke", "introspect"].contains(last) {
            return "oauth-" + last
        }
        return "other"
    }
}
