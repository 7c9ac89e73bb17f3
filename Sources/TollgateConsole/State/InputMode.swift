import TollgateCore

/// What keys currently go to.
public enum InputMode: Equatable, Sendable {
    /// The current view.
    case browse
    /// Typing a filter; Esc restores `original`.
    case filter(LineEditor)
    /// Typing a `:` command.
    case command(LineEditor)
    /// A confirmation (revoke a grant, a filter's grants, a client).
    case dialog(ConfirmDialog)
    /// The help screen, scrolled and perhaps searched.
    case help(HelpView)

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
    /// What the last `Tab` found when it could not decide (shown in the footer until the next key).
    public var candidates: [String] = []

    /// A field holding `text`, which was `original` before editing.
    public init(text: String = "", original: String = "") {
        self.text = text
        self.original = original
    }
}

/// The help screen: how far it is scrolled, and the search typed after `/` (lines that contain it, any case).
public struct HelpView: Equatable, Sendable {
    public var scroll: Int
    public var search: String
    /// Whether keys go to the search line.
    public var typing: Bool

    public init(scroll: Int = 0, search: String = "", typing: Bool = false) {
        self.scroll = scroll
        self.search = search
        self.typing = typing
    }
}

/// What a confirmation is about.
public enum ConfirmTarget: Equatable, Sendable {
    /// One grant.
    case grant(Grant)
    /// Every grant of an exact scope that the action applies to: `count` of them, counted in the store.
    case bulk(BulkAction, GrantScope, count: Int)
    /// A client, with the grants it holds that are not revoked yet.
    case client(ClientEntry, grants: Int)
}

/// A confirmation dialog: what it is about, and which button has the focus (Cancel at first).
public struct ConfirmDialog: Equatable, Sendable {
    /// The dialog's buttons.
    public enum Button: Sendable, CaseIterable {
        case cancel, revoke, revokeUpstream, refresh

        /// The button's label.
        public var title: String {
            switch self {
            case .cancel: return "Cancel"
            case .revoke: return "Revoke"
            case .revokeUpstream: return "Revoke + upstream"
            case .refresh: return "Refresh"
            }
        }
    }

    public var target: ConfirmTarget
    public var focus: Button

    /// The dialog, focused on Cancel unless told otherwise.
    public init(_ target: ConfirmTarget, focus: Button = .cancel) {
        self.target = target
        self.focus = focus
    }

    /// The buttons of this dialog, left to right; Cancel first.
    public var buttons: [Button] {
        switch target {
        case .grant, .bulk(.revoke, _, _): return [.cancel, .revoke, .revokeUpstream]
        case .bulk(.refresh, _, _): return [.cancel, .refresh]
        case .client: return [.cancel, .revoke]
        }
    }

    /// Moves the focus `step` buttons on, wrapping around.
    public mutating func moveFocus(by step: Int) {
        let all = buttons
        let index = all.firstIndex(of: focus) ?? 0
        focus = all[(index + step % all.count + all.count) % all.count]
    }
}
