/// A colour as a theme names it; mapped to the terminal's palette by ``ColorPalette``.
public enum ThemeColor: Sendable, Hashable {
    /// The terminal's own foreground or background.
    case terminalDefault
    /// One of the 16 ANSI colours (0–7 normal, 8–15 bright).
    case ansi(Int)
    /// An xterm 256-colour index (16–255).
    case indexed(Int)
    /// A 24-bit colour (`#rrggbb`), shown as the nearest colour the terminal has.
    case rgb(UInt8, UInt8, UInt8)
}

/// Text attributes; these are all a terminal without colours gets.
public struct TextAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let bold = TextAttributes(rawValue: 1 << 0)
    public static let dim = TextAttributes(rawValue: 1 << 1)
    public static let italic = TextAttributes(rawValue: 1 << 2)
    public static let underline = TextAttributes(rawValue: 1 << 3)
    public static let reverse = TextAttributes(rawValue: 1 << 4)
    public static let standout = TextAttributes(rawValue: 1 << 5)

    /// The names used in theme files, in a fixed order.
    public static let names: [(String, TextAttributes)] = [
        ("bold", .bold), ("dim", .dim), ("italic", .italic), ("underline", .underline), ("reverse", .reverse), ("standout", .standout),
    ]
}

/// How one role looks: foreground, background, attributes.
public struct Style: Sendable, Hashable {
    public var foreground: ThemeColor
    public var background: ThemeColor
    public var attributes: TextAttributes

    public init(foreground: ThemeColor = .terminalDefault, background: ThemeColor = .terminalDefault, attributes: TextAttributes = []) {
        self.foreground = foreground
        self.background = background
        self.attributes = attributes
    }
}

/// Role names → styles: what a theme file describes.
///
/// Roles a theme does not mention look like `default` plus the role's ``StyleRole/essentialAttributes``, so a
/// partial theme never makes the selection or a dialog's focus invisible.
public struct Theme: Sendable, Equatable {
    /// The theme's name (its file name without `.theme`).
    public var name: String
    /// The styles the theme sets explicitly.
    public var styles: [StyleRole: Style]

    public init(name: String, styles: [StyleRole: Style]) {
        self.name = name
        self.styles = styles
    }

    /// The style of `role` on a colour terminal.
    public func style(for role: StyleRole) -> Style {
        if let style = styles[role] { return style }
        var base = styles[.normal] ?? Style()
        base.attributes.formUnion(role.essentialAttributes)
        return base
    }

    /// The attributes of `role` where there are no colours (`NO_COLOR`, or a terminal without colour):
    /// the theme's attributes plus the role's ``StyleRole/essentialAttributes``.
    public func attributesOnly(for role: StyleRole) -> TextAttributes {
        style(for: role).attributes.union(role.essentialAttributes)
    }
}

extension StyleRole {
    /// Attributes a role keeps without colour, so that the selection, focus, headers and warnings stay
    /// visible on a monochrome terminal.
    public var essentialAttributes: TextAttributes {
        switch self {
        case .title: return [.reverse, .bold]
        case .header: return [.bold, .underline]
        case .selected, .buttonFocus: return [.reverse]
        case .muted, .jsonPunctuation, .statusRevoked: return [.dim]
        case .label, .footerKey, .flashInfo, .flashWarn, .dialogTitle, .danger, .spinner, .jsonKey, .helpKey,
             .statusExpiring, .statusExpired: return [.bold]
        case .flashError: return [.bold, .reverse]
        case .statusNeedsReauth, .helpSection: return [.bold, .underline]
        case .input: return [.underline]
        case .normal, .border, .footer, .dialog, .button, .statusActive, .jsonString, .jsonNumber, .jsonLiteral: return []
        }
    }
}
