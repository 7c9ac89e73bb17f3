/// What a key does. The reducer switches over these, never over raw keys.
public enum ConsoleAction: String, Sendable, CaseIterable {
    // Browsing
    case down, up, top, bottom, pageDown, pageUp, scrollLeft, scrollRight
    case open, back, filter, command, help, sortNext, sortPrevious, reload
    case forceRefresh, revoke, bulkRevoke, bulkRefresh, copy, wellKnown, quit
    // Dialogs
    case focusNext, focusPrevious, confirm, cancel
    // Line input (filter, command)
    case submit, abandon, deleteBackward, clearLine, complete
    // Help
    case search
}

/// Where a binding applies.
public enum KeyContext: String, Sendable, Hashable, CaseIterable {
    /// Browsing a view (the views are listed per binding).
    case browse
    /// A confirmation dialog is open.
    case dialog
    /// Typing a filter or a `:` command.
    case input
    /// The help screen is open.
    case help

    /// The heading of this context's section in the help.
    public var heading: String {
        switch self {
        case .browse: return "Browsing"
        case .dialog: return "In a confirmation dialog"
        case .input: return "Typing a filter (/) or a command (:)"
        case .help: return "In this help"
        }
    }
}

/// One row of the key table: keys, the action, where it applies, and how the footer and help describe it.
public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var action: ConsoleAction
    public var context: KeyContext
    /// The views a browse binding works in; `nil` means all.
    public var views: Set<ViewKind>?
    /// The help's description.
    public var summary: String
    /// The footer's short label; `nil` keeps the binding out of the footer.
    public var hint: String?
    /// Changes data (refresh, revoke): hidden and refused with `--read-only`.
    public var dangerous: Bool
    /// Why the action cannot be done for what is selected now (`nil`: it can). The footer shows the reason
    /// instead of offering the action, and pressing the key flashes it.
    public var unavailable: (@Sendable (ConsoleState) -> String?)?

    public init(_ keys: [Key], _ action: ConsoleAction, _ context: KeyContext = .browse, views: Set<ViewKind>? = nil,
                summary: String, hint: String? = nil, dangerous: Bool = false,
                unavailable: (@Sendable (ConsoleState) -> String?)? = nil) {
        self.keys = keys
        self.action = action
        self.context = context
        self.views = views
        self.summary = summary
        self.hint = hint
        self.dangerous = dangerous
        self.unavailable = unavailable
    }

    /// The keys as the footer and help write them: `j ↓`.
    public var keysLabel: String { keys.map(\.label).joined(separator: " ") }

    /// The footer's key label: the first key only, to save room.
    public var footerKey: String { keys.first?.label ?? "" }

    public func applies(in view: ViewKind) -> Bool { views?.contains(view) ?? true }
}

/// The one key table: it drives key handling, the footer hints and the `?` help.
public enum KeyTable {
    static let lists: Set<ViewKind> = [.servers, .providers, .clients, .grants, .audit]
    static let text: Set<ViewKind> = [.detail, .wellKnown]

    public static let bindings: [KeyBinding] = [
        KeyBinding([.character("j"), .down], .down, summary: "move down (text views: the cursor line)"),
        KeyBinding([.character("k"), .up], .up, summary: "move up"),
        KeyBinding([.character("g"), .home], .top, summary: "go to the first row"),
        KeyBinding([.character("G"), .end], .bottom, summary: "go to the last row"),
        KeyBinding([.pageDown, .control("f")], .pageDown, summary: "page down"),
        KeyBinding([.pageUp, .control("b")], .pageUp, summary: "page up"),
        KeyBinding([.character("h"), .left], .scrollLeft, views: text, summary: "scroll left"),
        KeyBinding([.character("l"), .right], .scrollRight, views: text, summary: "scroll right"),
        KeyBinding([.enter], .open, views: lists, summary: "open: a grant's detail; a server's or client's grants", hint: "open"),
        KeyBinding([.escape], .back, summary: "cancel the running job (bulk action, export); else back to the previous view, or clear a list's filter",
                   hint: "back"),
        KeyBinding([.character("/")], .filter, views: lists,
                   summary: "filter (see Filters below)", hint: "filter"),
        KeyBinding([.character("s")], .sortNext, views: [.servers, .providers, .grants], summary: "next sort order", hint: "sort"),
        KeyBinding([.character("S")], .sortPrevious, views: [.servers, .providers, .grants], summary: "previous sort order"),
        KeyBinding([.character("f")], .forceRefresh, views: [.grants, .detail],
                   summary: "force an upstream refresh of the grant", hint: "refresh", dangerous: true,
                   unavailable: { $0.refreshUnavailableReason }),
        KeyBinding([.character("x")], .revoke, views: [.grants, .detail, .clients],
                   summary: "revoke the grant, or the client with all its grants (asks first)", hint: "revoke", dangerous: true,
                   unavailable: { $0.revokeUnavailableReason }),
        KeyBinding([.character("X")], .bulkRevoke, views: [.grants],
                   summary: "revoke every grant of the filter (exact subject; asks first, naming the count)", dangerous: true,
                   unavailable: { $0.bulkUnavailableReason }),
        KeyBinding([.character("F")], .bulkRefresh, views: [.grants],
                   summary: "force a refresh of every refreshable grant of the filter (asks first)", dangerous: true,
                   unavailable: { $0.bulkUnavailableReason }),
        KeyBinding([.character("y")], .copy, views: [.grants, .detail, .clients, .servers, .providers, .audit, .wellKnown],
                   summary: "copy the selected id or the cursor line's value (OSC 52 clipboard)",
                   unavailable: { $0.copyText == nil ? "nothing selected to copy" : nil }),
        KeyBinding([.character("w")], .wellKnown, views: [.servers, .providers, .grants, .detail],
                   summary: "well-known metadata of the server", hint: "well-known"),
        KeyBinding([.character("r")], .reload, summary: "reload from the store", hint: "reload"),
        KeyBinding([.character(":")], .command, summary: "command (see Commands below; Tab completes)", hint: "cmd"),
        KeyBinding([.character("?")], .help, summary: "this help", hint: "help"),
        KeyBinding([.character("q"), .control("c")], .quit, summary: "quit", hint: "quit"),

        KeyBinding([.tab, .right, .character("l")], .focusNext, .dialog, summary: "next button", hint: "next"),
        KeyBinding([.backTab, .left, .character("h")], .focusPrevious, .dialog, summary: "previous button"),
        KeyBinding([.enter], .confirm, .dialog, summary: "press the focused button (Cancel is focused first)", hint: "choose"),
        KeyBinding([.escape, .character("q")], .cancel, .dialog, summary: "cancel", hint: "cancel"),

        KeyBinding([.enter], .submit, .input, summary: "apply", hint: "apply"),
        KeyBinding([.escape], .abandon, .input, summary: "cancel (a filter goes back to what it was)", hint: "cancel"),
        KeyBinding([.backspace, .delete], .deleteBackward, .input, summary: "delete the last character"),
        KeyBinding([.control("u")], .clearLine, .input, summary: "clear the line", hint: "clear"),
        KeyBinding([.tab], .complete, .input, summary: "complete a command or its argument (server, client, theme, format)",
                   hint: "complete"),

        KeyBinding([.character("j"), .down], .down, .help, summary: "scroll down", hint: "scroll"),
        KeyBinding([.character("k"), .up], .up, .help, summary: "scroll up"),
        KeyBinding([.character("/")], .search, .help, summary: "search the help as you type (Enter keeps it, Esc clears it)",
                   hint: "search"),
        KeyBinding([.escape, .character("?"), .character("q")], .back, .help, summary: "close the help", hint: "close"),
    ]

    /// The binding of `key` in `context` (and `view`, when browsing), read-only or not.
    public static func binding(for key: Key, context: KeyContext, view: ViewKind) -> KeyBinding? {
        bindings.first { $0.context == context && $0.keys.contains(key) && (context != .browse || $0.applies(in: view)) }
    }

    /// The bindings shown for `context`/`view`: dangerous ones left out when `readOnly`.
    public static func visible(context: KeyContext, view: ViewKind, readOnly: Bool) -> [KeyBinding] {
        bindings.filter { $0.context == context && (context != .browse || $0.applies(in: view)) && !(readOnly && $0.dangerous) }
    }
}
