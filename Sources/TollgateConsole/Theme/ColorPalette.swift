/// How many colours a terminal has, and the nearest of them to each theme colour.
public enum ColorPalette: Sendable, Equatable {
    /// No colours (`NO_COLOR`, or the terminal has none): attributes only.
    case none
    case eight
    case sixteen
    case full256

    /// The palette for a terminal reporting `colors` colours; `noColor` (the `NO_COLOR` convention) wins.
    public static func forTerminal(colors: Int, hasColors: Bool, noColor: Bool) -> ColorPalette {
        if noColor || !hasColors || colors < 8 { return .none }
        if colors >= 256 { return .full256 }
        if colors >= 16 { return .sixteen }
        return .eight
    }

    /// The terminal colour index for `color`: -1 for the terminal's default, otherwise an index below the
    /// palette's size. `nil` for ``none``.
    public func index(for color: ThemeColor) -> Int? {
        let size: Int
        switch self {
        case .none: return nil
        case .eight: size = 8
        case .sixteen: size = 16
        case .full256: size = 256
        }
        switch color {
        case .terminalDefault:
            return -1
        case .ansi(let n):
            if n < size { return n }
            return Self.nearest(Self.rgb(ofIndex: n), among: 0..<size)
        case .indexed(let n):
            if n < size { return n }
            return Self.nearest(Self.rgb(ofIndex: n), among: 0..<size)
        case .rgb(let r, let g, let b):
            // The 16 ANSI slots are often redefined by terminal themes; the cube and the grays are not.
            return Self.nearest((Int(r), Int(g), Int(b)), among: size == 256 ? 16..<256 : 0..<size)
        }
    }

    /// The xterm default RGB of a palette index.
    public static func rgb(ofIndex n: Int) -> (Int, Int, Int) {
        let ansi: [(Int, Int, Int)] = [
            (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
            (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
        ]
        if n < 16 { return ansi[max(0, n)] }
        if n < 232 {
            let levels = [0, 95, 135, 175, 215, 255]
            let i = n - 16
            return (levels[i / 36], levels[(i / 6) % 6], levels[i % 6])
        }
        let gray = 8 + 10 * (min(n, 255) - 232)
        return (gray, gray, gray)
    }

    /// The index in `range` whose colour is nearest to `target` (weighted RGB distance; ties go to the lower
    /// index). A gray stays a gray: it is matched among the palette's grays only, never to a tinted colour.
    static func nearest(_ target: (Int, Int, Int), among range: Range<Int>) -> Int {
        func isGray(_ c: (Int, Int, Int)) -> Bool { max(c.0, c.1, c.2) - min(c.0, c.1, c.2) <= 24 }
        let grayTarget = isGray(target)
        var best = range.lowerBound, bestDistance = Int.max
        for i in range {
            let (r, g, b) = rgb(ofIndex: i)
            if grayTarget && !isGray((r, g, b)) { continue }
            let dr = r - target.0, dg = g - target.1, db = b - target.2
            let distance = 2 * dr * dr + 4 * dg * dg + 3 * db * db
            if distance < bestDistance { best = i; bestDistance = distance }
        }
        return best
    }
}
