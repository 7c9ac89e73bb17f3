/// What a cell on screen is, for the theme to colour: the renderer only ever assigns roles, never colours.
///
/// The raw value is the name used in theme files; ``maskCode`` is the letter used in role-mask snapshots.
public enum StyleRole: String, Sendable, CaseIterable, Hashable {
    case normal = "default"
    case title
    case header
    case selected
    case muted
    case label
    case border
    case footer
    case footerKey = "footer-key"
    case input
    case flashInfo = "flash-info"
    case flashWarn = "flash-warn"
    case flashError = "flash-error"
    case dialog
    case dialogTitle = "dialog-title"
    case button
    case buttonFocus = "button-focus"
    case danger
    case spinner
    case statusActive = "status-active"
    case statusExpiring = "status-expiring"
    case statusExpired = "status-expired"
    case statusNeedsReauth = "status-needs-reauth"
    case statusRevoked = "status-revoked"
    case jsonKey = "json-key"
    case jsonString = "json-string"
    case jsonNumber = "json-number"
    case jsonLiteral = "json-literal"
    case jsonPunctuation = "json-punctuation"
    case helpKey = "help-key"
    case helpSection = "help-section"

    /// One letter per role, for role-mask snapshots (`.` is ``normal``).
    public var maskCode: Character {
        switch self {
        case .normal: return "."
        case .title: return "T"
        case .header: return "H"
        case .selected: return "S"
        case .muted: return "m"
        case .label: return "l"
        case .border: return "b"
        case .footer: return "f"
        case .footerKey: return "F"
        case .input: return "i"
        case .flashInfo: return "I"
        case .flashWarn: return "W"
        case .flashError: return "E"
        case .dialog: return "d"
        case .dialogTitle: return "D"
        case .button: return "u"
        case .buttonFocus: return "U"
        case .danger: return "X"
        case .spinner: return "*"
        case .statusActive: return "a"
        case .statusExpiring: return "g"
        case .statusExpired: return "x"
        case .statusNeedsReauth: return "n"
        case .statusRevoked: return "r"
        case .jsonKey: return "k"
        case .jsonString: return "s"
        case .jsonNumber: return "0"
        case .jsonLiteral: return "L"
        case .jsonPunctuation: return "p"
        case .helpKey: return "K"
        case .helpSection: return "h"
        }
    }
}
