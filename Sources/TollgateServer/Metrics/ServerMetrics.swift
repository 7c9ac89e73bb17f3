import Foundation
import Prometheus
import Synchronization
import TollgateCore

/// The Prometheus metrics of one `serve` process: requests, token grants by type and outcome, upstream
/// refreshes by outcome and latency, gateway latency, refused requests by reason, and client ID metadata document
/// fetches by outcome.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                              .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                              .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    /// The registry's objects by name and labels, so a request costs one dictionary lookup rather than the
    /// registry's own (label sorting and name validation under its lock).
    private let counters = Mutex<[MetricKey: Counter]>([:])
    private let histograms = Mutex<[MetricKey: DurationHistogram]>([:])

    public init() {}

    private struct MetricKey: Hashable {
        let name: String
        let labels: [String]
        init(_ name: String, _ labels: [(String, String)]) {
            self.name = name
            self.labels = labels.flatMap { [$0.0, $0.1] }
        }
    }

    /// The `# HELP` text of each metric.
    static let help: [String: String] = [
        "tollgate_http_requests_total": "HTTP requests answered, by route family and status class.",
        "tollgate_token_grants_total": "Token endpoint requests, by grant type and outcome.",
        "tollgate_upstream_refreshes_total": "Upstream refresh calls, by outcome.",
        "tollgate_upstream_refresh_duration_seconds": "Time an upstream refresh call took.",
        "tollgate_gateway_duration_seconds": "Time from a gateway request to the MCP server's response head, by server.",
        "tollgate_gateway_requests_total": "Gateway requests, by server and status class.",
        "tollgate_pending_authorizations_total": "Sign-ins started (pending authorizations stored) or refused by the limits.",
        "tollgate_refusals_total": "Refused requests, by reason.",
        "tollgate_refusal_events_dropped_total": "Refusal audit events dropped because their queue was full.",
        "tollgate_client_metadata_fetches_total": "Client ID metadata document fetches, by outcome.",
        "tollgate_connections_closed_total": "Client connections the server closed itself, by reason.",
    ]

    /// The descriptor of the metric `name` (its full name) with its help text.
    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? name)
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
        let key = MetricKey(name, labels)
        if let existing = counters.withLock({ $0[key] }) { return existing }
        let made = registry.makeCounter(descriptor: Self.descriptor(name), labels: labels)
        counters.withLock { $0[key] = made }
        return made
    }

    private func histogram(_ name: String, _ labels: [(String, String)]) -> DurationHistogram {
        let key = MetricKey(name, labels)
        if let existing = histograms.withLock({ $0[key] }) { return existing }
        let made = registry.makeDurationHistogram(descriptor: Self.descriptor(name), labels: labels, buckets: latencyBuckets)
        histograms.withLock { $0[key] = made }
        return made
    }

    private static let statusClasses = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"]
    private static func statusClass(_ status: Int) -> String { statusClasses.indices.contains(status / 100) ? statusClasses[status / 100] : "\(status / 100)xx" }

    /// Counts one HTTP request by route family and status class.
    func request(route: String, status: Int) {
        counter("tollgate_http_requests_total", [("route", route), ("status", Self.statusClass(status))]).increment()
    }

    /// Counts one token-endpoint grant.
    func tokenGrant(type: String, outcome: String) {
        counter("tollgate_token_grants_total", [("grant_type", type), ("outcome", outcome)]).increment()
    }

    /// Records one upstream refresh call (installed as the core's refresh observer).
    public func upstreamRefresh(outcome: RefreshOutcome, seconds: TimeInterval) {
        counter("tollgate_upstream_refreshes_total", [("outcome", outcome.rawValue)]).increment()
        histogram("tollgate_upstream_refresh_duration_seconds", []).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Records the time to the backend's response head for one forwarded MCP request.
    func gateway(server: String, status: Int, seconds: TimeInterval) {
        histogram("tollgate_gateway_duration_seconds", [("server", server)]).record(.nanoseconds(Int64(seconds * 1e9)))
        counter("tollgate_gateway_requests_total", [("server", server), ("status", Self.statusClass(status))]).increment()
    }

    /// Counts one attempt to start an authorization (store a pending authorization): `created` or `limited`.
    func pendingAuthorization(outcome: String) {
        counter("tollgate_pending_authorizations_total", [("outcome", outcome)]).increment()
    }

    /// Counts one refused request by its reason (every refusal, whether or not the audit log recorded it).
    func refusal(_ reason: RefusalReason) {
        counter("tollgate_refusals_total", [("reason", reason.rawValue)]).increment()
    }

    /// Counts one refusal event dropped because the audit queue was full.
    func refusalEventDropped() {
        counter("tollgate_refusal_events_dropped_total", []).increment()
    }

    /// Counts one request for a client ID metadata document that was not cached, by what became of it.
    func clientMetadataFetch(_ outcome: ClientMetadataFetchOutcome) {
        counter("tollgate_client_metadata_fetches_total", [("outcome", outcome.rawValue)]).increment()
    }

    /// Counts one client connection the server closed itself (a timeout, or to make room at the limit).
    func connectionClosed(reason: String) {
        counter("tollgate_connections_closed_total", [("reason", reason)]).increment()
    }

    /// The text exposition format.
    func render() -> String { registry.emitToString() }
}
