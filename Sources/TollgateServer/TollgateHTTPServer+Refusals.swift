import Hummingbird
import TollgateCore

extension TollgateHTTPServer {
    /// Records a refused request: its reason in the request's access-log line and in `/metrics`, and
    /// (rate-limited, off the request path) as a `request.refused` audit event.
    ///
    /// - Parameters:
    ///   - description: what the client was told (the token service's words; no token material).
    ///   - request: only its method and path are used, never its query string or headers.
    func recordRefusal(_ refusal: Refusal, description: String, request: Request, note: AccessNote) {
        note.note(refusal)
        metrics.refusal(refusal.reason)
        refusals.record(refusal, description: description, route: "\(request.method) \(UpstreamErrorText.clip(request.uri.path, 200))")
    }

    /// Records the refusal an OAuth error carries (or the one its wire code implies).
    func recordRefusal(_ error: OAuthError, request: Request, note: AccessNote) {
        recordRefusal(error.refusal ?? Refusal(error.refusalReason), description: error.errorDescription, request: request, note: note)
    }
}
