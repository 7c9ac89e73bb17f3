/// A theme file that cannot be used: where and why.
public struct ThemeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or `<name>` for embedded text).
    public var source: String
    /// 1-based line number; 0 when the problem is not on a line (file missing, unreadable).
    public var line: Int
    public var message: String

    public init(source: String, line: Int, message: String) {
        self.source = source
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(source):\(line): \(message)" : "\(source): \(message)" }
}

extension Theme {
    /// The colour names of theme files: the 8 ANSI colours and their `bright-` forms.
    public static let colorNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    /// Parses a theme file.
    ///
    /// Format, one role per line: `role = FG [on BG] [+attribute …]`, where FG and BG are `default`, a colour
    /// name (`red`, `bright-red`, `gray`), an xterm index `0`–`255`, or `#rrggbb`; FG may be left out
    /// (`on blue +bold`). Attributes: `bold dim italic underline reverse standout`. `#` starts a comment at the
    /// beginning of a line or after whitespace when followed by whitespace or the end of the line. Blank lines
    /// are ignored; a role set twice keeps its last line.
    public static func parse(_ text: String, name: String, source: String) throws(ThemeError) -> Theme {
        var styles: [StyleRole: Style] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = stripComment(String(rawLine)).trimmingSpaces()
            if line.isEmpty { continue }
            func fail(_ message: String) -> ThemeError { ThemeError(source: source, line: lineNumber, message: message) }
            guard let equals = line.firstIndex(of: "=") else {
                throw fail("expected 'role = colour [on colour] [+attribute …]', got '\(line)'")
            }
            let roleName = String(line[..<equals]).trimmingSpaces()
            guard let role = StyleRole(rawValue: roleName.lowercased()) else {
                throw fail("unknown role '\(roleName)' (roles: \(StyleRole.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let tokens = line[line.index(after: equals)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !tokens.isEmpty else { throw fail("role '\(roleName)' has no style") }
            var style = Style()
            var i = 0
            var sawForeground = false
            while i < tokens.count {
                let token = tokens[i]
                if token.hasPrefix("+") {
                    let attribute = String(token.dropFirst()).lowercased()
                    guard let value = TextAttributes.names.first(where: { $0.0 == attribute })?.1 else {
                        throw fail("unknown attribute '\(token)' (attributes: \(TextAttributes.names.map { "+" + $0.0 }.joined(separator: " ")))")
                    }
                    style.attributes.insert(value)
                } else if token.lowercased() == "on" {
                    guard i + 1 < tokens.count else { throw fail("'on' needs a background colour") }
                    i += 1
                    guard let color = parseColor(tokens[i]) else { throw fail("unknown colour '\(tokens[i])'") }
                    style.background = color
                } else {
                    guard !sawForeground else { throw fail("unexpected '\(token)' (a second foreground colour? write 'on' before the background)") }
                    guard let color = parseColor(token) else { throw fail("unknown colour '\(token)'") }
                    style.foreground = color
                    sawForeground = true
                }
                i += 1
            }
            styles[role] = style
        }
        return Theme(name: name, styles: styles)
    }

    /// A colour token: `default`, a name, `bright-name`, `gray`, `0`–`255`, or `#rrggbb`.
    public static func parseColor(_ token: String) -> ThemeColor? {
        let t = token.lowercased()
        if t == "default" { return .terminalDefault }
        if t == "gray" || t == "grey" { return .ansi(8) }
        if let index = colorNames.firstIndex(of: t) { return .ansi(index) }
        if t.hasPrefix("bright-"), let index = colorNames.firstIndex(of: String(t.dropFirst(7))) { return .ansi(index + 8) }
        if let n = Int(t), (0...255).contains(n) { return n < 16 ? .ansi(n) : .indexed(n) }
        if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
            return .rgb(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
        }
        return nil
    }

    /// The line without its comment: `#` at the start, or after whitespace and followed by whitespace or the end.
    static func stripComment(_ line: String) -> String {
        let chars = Array(line)
        for (i, c) in chars.enumerated() where c == "#" {
            let atStart = chars[..<i].allSatisfy { $0 == " " || $0 == "\t" }
            let afterSpace = i > 0 && (chars[i - 1] == " " || chars[i - 1] == "\t")
            let beforeSpace = i + 1 == chars.count || chars[i + 1] == " " || chars[i + 1] == "\t"
            if atStart || (afterSpace && beforeSpace) { return String(chars[..<i]) }
        }
        return line
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
