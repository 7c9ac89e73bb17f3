import TollgateCore

/// How a piece of text about a grant should stand out. The console draws it in a matching ``StyleRole``;
/// plain text (the CLI) ignores it, so a tone never carries meaning the words do not.
public enum TextTone: Sendable, Equatable {
    case normal
    /// Nothing to see: an absent or unknown value.
    case muted
    /// Something is wrong: a failure, a refusal, why a grant stopped working.
    case danger
    /// The colour of a grant status (a revoked grant's revocation time is `status(.revoked)`).
    case status(GrantStatus)
    /// Work under way, such as a forced refresh the console is waiting for.
    case busy
}

/// A piece of text and its tone: one cell of a table or one value of a description.
public struct TonedText: Sendable, Equatable {
    /// The words, as plain text shows them.
    public var text: String
    /// How the console draws them.
    public var tone: TextTone

    /// `text` in `tone`.
    public init(_ text: String, _ tone: TextTone = .normal) {
        self.text = text
        self.tone = tone
    }
}
