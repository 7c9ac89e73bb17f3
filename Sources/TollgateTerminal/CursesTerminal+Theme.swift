import CNcursesw
import TollgateConsole

extension CursesTerminal {
    /// Sets one colour pair per role, each colour the nearest the terminal has; with no colours (or
    /// `NO_COLOR`) only attributes, with every role's essential attributes so that nothing relies on colour.
    public func apply(_ theme: Theme) {
        var styles: [StyleRole: (attributes: attr_t, pair: Int16)] = [:]
        for (index, role) in StyleRole.allCases.enumerated() {
            if palette == .none || Int(tg_color_pairs()) <= index + 1 {
                styles[role] = (Self.cursesAttributes(theme.attributesOnly(for: role)), 0)
                continue
            }
            let style = theme.style(for: role)
            let pair = Int16(index + 1)
            init_pair(pair, Int16(palette.index(for: style.foreground) ?? -1), Int16(palette.index(for: style.background) ?? -1))
            styles[role] = (Self.cursesAttributes(style.attributes), pair)
        }
        setStyles(styles)
    }

    static func cursesAttributes(_ attributes: TextAttributes) -> attr_t {
        var value = tg_attr_normal()
        if attributes.contains(.bold) { value |= tg_attr_bold() }
        if attributes.contains(.dim) { value |= tg_attr_dim() }
        if attributes.contains(.italic) { value |= tg_attr_italic() }
        if attributes.contains(.underline) { value |= tg_attr_underline() }
        if attributes.contains(.reverse) { value |= tg_attr_reverse() }
        if attributes.contains(.standout) { value |= tg_attr_standout() }
        return value
    }
}
