import TollgateCore

/// What keys currently go to.
public enum InputMode: Equatable, Sendable {
    /// The current view.
    case browse
    /// Typing a filter; Esc restores `original`.
    case filter(LineEditor)
    /// Typing a `:` command.
    case command(LineEditor)
    /// The revoke confirmation.
    case dialog(RevokeDialog)
    /// The help screen, scrolled by `scroll` lines.
    case help(scroll: Int)

    /// The key-table context of this mode.
    public var context: KeyContext {
        switch self {
        case .browse: return .browse
        case .filter, .command: return .input
        case .dialog: return .dialog
        case .help: return .help
        }
    }
}

/// A one-line text field (typing appends; Backspace deletes the last character).
public struct LineEditor: Equatable, Sendable {
    /// What has been typed.
    public var text: String
    /// What the field held when editing started.
    public var original: String

    /// A field holding `text`, which was `original` before editing.
    public init(text: String = "", original: String = "") {
        self.text = text
        self.original = original
    }
}

/// The revoke confirmation: which grant, and which button has the focus (Cancel at first).
public struct RevokeDialog: Equatable, Sendable {
    /// The dialog's buttons, left to right.
    public enum Button: Int, Sendable, CaseIterable {
        case cancel, revoke, revokeUpstream

        /// The button's label.
        public var title: String {
            switch self {
            case .cancel: return "Cancel"
            case .revoke: return "Revoke"
            case .revokeUpstream: return "Revoke + upstream"
            }
        }
    }

    /// The grant to revoke, and the focused button.
    public var grant: Grant
    public var focus: Button

    /// The dialog, focused on Cancel unless told otherwise.
    public init(grant: Grant, focus: Button = .cancel) {
        self.grant = grant
        self.focus = focus
    }
}
