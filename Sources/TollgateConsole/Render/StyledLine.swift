/// A run of text in one role.
public struct Span: Sendable, Equatable {
    /// The text and its role.
    public var text: String
    public var role: StyleRole

    /// A span of `text` in `role`.
    public init(_ text: String, _ role: StyleRole = .normal) {
        self.text = text
        self.role = role
    }
}

/// One line of a text view (detail, well-known, help): spans drawn left to right.
public struct StyledLine: Sendable, Equatable {
    /// The spans, left to right.
    public var spans: [Span]

    /// A line of spans (an empty line by default).
    public init(_ spans: [Span] = []) {
        self.spans = spans
    }

    /// A line of one span.
    public init(_ text: String, _ role: StyleRole = .normal) {
        spans = [Span(text, role)]
    }

    /// The line's plain text.
    public var text: String { spans.map(\.text).joined() }
}
