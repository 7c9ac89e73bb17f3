import Foundation
import TollgateCore

/// A long action running off the UI thread (a bulk revoke or refresh, an export), with its progress line.
/// One runs at a time; Esc cancels it.
public struct ConsoleJob: Equatable, Sendable {
    /// What the job does.
    public enum Kind: Equatable, Sendable {
        case bulk(BulkAction, GrantScope, upstream: Bool)
        case export(ExportFormat, path: String)
    }

    /// The job's number (its events carry it), what it does, and when it started.
    public var id: Int
    public var kind: Kind
    public var started: Date
    /// How far it has got: rows or grants done of `total` (`nil` when the total is not known).
    public var done = 0
    public var total: Int?
    public var failed = 0
    /// Whether Esc asked it to stop (it stops before the next grant or page).
    public var cancelling = false

    public init(id: Int, kind: Kind, started: Date, total: Int? = nil) {
        self.id = id
        self.kind = kind
        self.started = started
        self.total = total
    }

    /// `revoking grants of subject=bob: 120 of 300 (2 failed)`: the progress line's text.
    public var progressText: String {
        let of = total.map { " of \($0)" } ?? ""
        switch kind {
        case .bulk(let action, let scope, _):
            let verb = action == .revoke ? "revoking" : "refreshing"
            return "\(verb) grants of \(scope): \(done)\(of)" + (failed > 0 ? " (\(failed) failed)" : "")
        case .export(let format, let path):
            return "exporting \(format.rawValue) to \(path): \(done)\(of) rows"
        }
    }
}

/// The file formats of `:export`.
public enum ExportFormat: String, Sendable, Equatable, CaseIterable {
    case csv, json
}
