import Foundation
import TollgateCore

/// The providers view's health line: the last hour's refresh success rate and latency, and the newest error
/// (the provider's recorded configuration error or the last failed refresh, whichever is newer).
enum ProviderHealthText {
    /// `98% of 50, ~120 ms` (mean latency), or `no refreshes`; a rate under 90% is shown as a danger.
    static func summary(_ health: RefreshHealth?) -> (String, StyleRole?) {
        guard let health, let rate = health.successRate else { return ("no refreshes", .muted) }
        let percent = Int((rate * 100).rounded(.down))
        let latency = health.meanMilliseconds.map { ", ~\($0) ms" } ?? ""
        return ("\(percent)% of \(health.attempts)\(latency)", rate < 0.9 ? .danger : nil)
    }

    /// The newer of the provider's last error and the last failed refresh of the hour, with its age.
    static func lastError(_ entry: ServerEntry, now: Date) -> (String, StyleRole?) {
        var candidates: [(at: Date, text: String)] = []
        if let error = entry.provider?.lastError { candidates.append((entry.provider?.lastErrorAt ?? .distantPast, error)) }
        if let failed = entry.health?.lastError { candidates.append((failed.at, "\(failed.outcome): \(failed.detail)")) }
        guard let newest = candidates.max(by: { $0.at < $1.at }) else { return ("none", .muted) }
        let when = newest.at == .distantPast ? "" : TimeText.relative(newest.at, now: now) + ": "
        return (when + newest.text, .danger)
    }
}
