import Foundation

/// Which gateway sub-paths may be forwarded: only those that stay below the MCP server's URL however the
/// backend reads them. A backend that normalises `/mcp/../admin` — or decodes once more and then normalises,
/// or drops Tomcat-style `;parameters` before resolving `..;` — would otherwise serve a path outside the MCP
/// URL with the user's upstream token.
enum SubPathPolicy {
    /// How many rounds of percent-decoding a segment may need; one still encoded after that is refused.
    static let maxDecodingRounds = 4

    /// Whether every segment of `suffix` (the part after `/mcp/{slug}/`, as received) is safe: at no stage of
    /// repeated percent-decoding is it a dot segment (`.` or `..`, also with `;parameters`), nor does it hold
    /// a slash, a backslash or a NUL. A malformed escape is refused too.
    static func staysBelow(_ suffix: String) -> Bool {
        suffix.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isSafeSegment)
    }

    static func isSafeSegment(_ segment: Substring) -> Bool {
        var current = String(segment)
        for _ in 0...maxDecodingRounds {
            if isDotSegment(current) || current.contains(where: { $0 == "/" || $0 == "\\" || $0 == "\0" }) { return false }
            guard current.contains("%") else { return true }
            guard let decoded = current.removingPercentEncoding else { return false }
            if decoded == current { return true }
            current = decoded
        }
        return false
    }

    /// `.` or `..`, alone or followed by `;parameters` (which Tomcat-style servers strip before resolving).
    static func isDotSegment(_ segment: String) -> Bool {
        let path = segment.prefix { $0 != ";" }
        return path == "." || path == ".."
    }
}
