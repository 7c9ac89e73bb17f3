import Foundation
import Prometheus
import TollgateCore

/// The Prometheus metrics of one `serve` process: requests, token grants by type and outcome, upstream
/// refreshes by outcome and latency, and gateway latency.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                              .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                              .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    public init() {}

    /// Counts one HTTP request by route family and status class.
    func request(route: String, status: Int) {
        registry.makeCounter(name: "tollgate_http_requests_total", labels: [("route", route), ("status", "\(status / 100)xx")]).increment()
    }

    /// Counts one token-endpoint grant.
    func tokenGrant(type: String, outcome: String) {
        registry.makeCounter(name: "tollgate_token_grants_total", labels: [("grant_type", type), ("outcome", outcome)]).increment()
    }

    /// Records one upstream refresh call (installed as the core's refresh observer).
    public func upstreamRefresh(outcome: RefreshOutcome, seconds: TimeInterval) {
        registry.makeCounter(name: "tollgate_upstream_refreshes_total", labels: [("outcome", outcome.rawValue)]).increment()
        registry.makeDurationHistogram(name: "tollgate_upstream_refresh_duration_seconds", labels: [], buckets: latencyBuckets)
            .record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Records the time to the backend's response head for one forwarded MCP request.
    func gateway(server: String, status: Int, seconds: TimeInterval) {
        registry.makeDurationHistogram(name: "tollgate_gateway_duration_seconds", labels: [("server", server)], buckets: latencyBuckets)
            .record(.nanoseconds(Int64(seconds * 1e9)))
        registry.makeCounter(name: "tollgate_gateway_requests_total", labels: [("server", server), ("status", "\(status / 100)xx")]).increment()
    }

    /// The text exposition format.
    func render() -> String { registry.emitToString() }
}
