/// What a bulk action does to each grant of its scope.
public enum BulkAction: String, Sendable, Equatable, Codable {
    case revoke
    case refresh

    /// `revoked` / `refreshed`: what a grant it succeeded on now is.
    public var pastTense: String { self == .revoke ? "revoked" : "refreshed" }
}

/// What a bulk action would do, without doing it: how many grants, and the first of them.
public struct BulkPlan: Sendable, Equatable {
    public var action: BulkAction
    public var scope: GrantScope
    /// How many grants of the scope the action applies to (exact, counted in the store).
    public var count: Int
    /// The first of them, oldest first (at most the listing limit asked for).
    public var first: [Grant]

    public init(action: BulkAction, scope: GrantScope, count: Int, first: [Grant]) {
        self.action = action
        self.scope = scope
        self.count = count
        self.first = first
    }
}

/// How far a bulk action has got.
public struct BulkProgress: Sendable, Equatable {
    /// Grants dealt with so far (succeeded or failed), of `total` planned at the start.
    public var done: Int
    public var total: Int
    public var succeeded: Int
    public var failed: Int

    public init(done: Int, total: Int, succeeded: Int, failed: Int) {
        self.done = done
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
    }
}

/// How a bulk action ended: how many grants it changed, and why the others were not.
public struct BulkResult: Sendable, Equatable {
    public var action: BulkAction
    public var scope: GrantScope
    /// Grants the action succeeded on.
    public var succeeded: Int
    /// Failed grants by reason (`needs-reauth: the upstream said invalid_grant` → 3).
    public var failures: [String: Int]
    /// Remarks on succeeded grants by text (`upstream: refresh token revoked` → 12).
    public var notes: [String: Int]
    /// Whether the action was cancelled before it reached every grant of its scope.
    public var cancelled: Bool

    public init(action: BulkAction, scope: GrantScope, succeeded: Int = 0, failures: [String: Int] = [:],
                notes: [String: Int] = [:], cancelled: Bool = false) {
        self.action = action
        self.scope = scope
        self.succeeded = succeeded
        self.failures = failures
        self.notes = notes
        self.cancelled = cancelled
    }

    /// How many grants failed.
    public var failed: Int { failures.values.reduce(0, +) }

    /// The reasons, most frequent first: `3× needs-reauth: …`.
    public var failureLines: [String] { Self.lines(failures) }
    /// The notes, most frequent first.
    public var noteLines: [String] { Self.lines(notes) }

    /// `12 revoked, 2 failed (2× transient: …); cancelled`: one line for a flash, a log or the audit trail.
    public var summary: String {
        var text = "\(succeeded) \(action.pastTense)"
        if failed > 0 { text += ", \(failed) failed (\(failureLines.joined(separator: "; ")))" }
        if !notes.isEmpty { text += "; \(noteLines.joined(separator: "; "))" }
        if cancelled { text += "; cancelled before the end" }
        return text
    }

    static func lines(_ counts: [String: Int]) -> [String] {
        counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value)× \($0.key)" }
    }
}
