import Foundation

/// Which redirect URIs a client may register, and which presented redirect URI matches a registered one.
///
/// A redirect URI is accepted when it is at most ``maximumLength`` characters of RFC 3986 (visible ASCII:
/// no space, control character, NUL, ESC or non-ASCII; `%` only as a valid escape), has no fragment and no
/// user information, and is one of:
///
/// - `https` with a host (any host, any port);
/// - loopback `http` (RFC 8252 §7.3): the host is exactly `127.0.0.1`, `[::1]` or `localhost`;
/// - a private-use scheme of a native app (RFC 8252 §7.1): a syntactically valid scheme of at least two
///   characters that is not a network or browser-internal scheme (``refusedSchemes``: `ws`, `ftp`, `gopher`,
///   `file`, `data`, `javascript`, …), followed by a non-empty authority (`vscode://vscode.github-authentication/…`)
///   or a path with more than slashes (`com.example.app:/cb`). `x:` and `c:/…` are refused.
///
/// At authorization the presented URI must equal a registered one, except that for loopback `http` the port
/// may differ (RFC 8252 §7.3, OAuth 2.1 §8.4.2): scheme, host, path and query must still be identical.
public enum RedirectURIPolicy {
    /// A registering client's `application_type`.
    public enum ApplicationType: String, Sendable, Codable {
        /// A web application: redirects to https.
        case web
        /// An app on the user's device: redirects to loopback http or its own private-use scheme.
        case native
    }

    /// The longest redirect URI accepted, in characters.
    public static let maximumLength = 2000
    /// The most redirect URIs one client may register.
    public static let maximumCount = 10

    /// Schemes that are never a native app's private-use scheme: network protocols and browser internals.
    public static let refusedSchemes: Set<String> = [
        "http", "https", "ws", "wss", "ftp", "ftps", "sftp", "tftp", "gopher", "file", "data", "javascript", "vbscript",
        "about", "blob", "filesystem", "view-source", "jar", "mailto", "news", "nntp", "telnet", "tn3270", "ssh", "tel",
        "sms", "ldap", "ldaps", "irc", "ircs", "imap", "pop", "smtp", "dict", "rtsp", "rtmp", "sip", "sips", "xmpp",
        "smb", "nfs", "git", "svn", "dns", "urn", "ws+unix", "chrome", "chrome-extension", "moz-extension", "resource",
    ]

    /// The loopback hosts on which plain `http` is allowed.
    public static let loopbackHosts: Set<String> = ["127.0.0.1", "[::1]", "localhost"]

    /// Why `uri` may not be registered, or `nil` when it may.
    public static func refusal(_ uri: String) -> String? {
        guard !uri.isEmpty else { return "a redirect URI is empty" }
        guard uri.utf8.count <= maximumLength else { return "a redirect URI is longer than \(maximumLength) characters" }
        guard uri.utf8.allSatisfy(isURICharacter) else {
            return "a redirect URI contains a space, a control or non-ASCII character, or a character URIs do not allow"
        }
        guard !uri.contains("#") else { return "a redirect URI must not have a fragment" }
        guard hasValidPercentEscapes(uri) else { return "a redirect URI has an invalid percent escape" }
        guard let parts = RedirectURIParts(uri) else { return "a redirect URI must start with a valid scheme" }
        if parts.userInfo != nil { return "a redirect URI must not contain user information" }
        if let port = parts.port, !isValidPort(port) { return "a redirect URI has an invalid port" }
        switch parts.scheme {
        case "https":
            guard let host = parts.host, !host.isEmpty, isValidHost(host) else { return "an https redirect URI needs a host" }
            return nil
        case "http":
            guard let host = parts.host, loopbackHosts.contains(host) else {
                return "plain http is only allowed on a loopback host (127.0.0.1, [::1] or localhost)"
            }
            return nil
        default:
            guard parts.scheme.count >= 2, !refusedSchemes.contains(parts.scheme) else {
                return "scheme '\(UpstreamError.sanitize(parts.scheme, limit: 40))' is not allowed for redirect URIs"
            }
            let hasAuthority = !(parts.host ?? "").isEmpty
            let hasPath = parts.path.contains { $0 != "/" }
            guard hasAuthority || hasPath else { return "a private-use redirect URI needs an authority or a path" }
            if let host = parts.host, !host.isEmpty, !isValidHost(host) { return "a redirect URI has an invalid authority" }
            return nil
        }
    }

    /// Why `uri` may not be registered by a client of `applicationType` (OpenID Connect Dynamic Client Registration
    /// §2), or `nil` when it may: a `native` client redirects to loopback `http` or to a private-use scheme, a `web`
    /// client to `https` (a loopback or private-use URI would let a local app impersonate it). Without an
    /// application type (most MCP clients send none), only ``refusal(_:)`` applies.
    public static func refusal(_ uri: String, applicationType: ApplicationType?) -> String? {
        if let refusal = refusal(uri) { return refusal }
        guard let applicationType, let parts = RedirectURIParts(uri) else { return nil }
        switch applicationType {
        case .native where parts.scheme == "https":
            return "a native client's redirect URI must be loopback http or a private-use scheme, not https"
        case .web where parts.scheme != "https":
            return "a web client's redirect URI must be https"
        default:
            return nil
        }
    }

    /// The registered URI that `presented` matches, or `nil`: an exact match, or for loopback `http` the
    /// same scheme, host, path and query on any port.
    public static func match(_ presented: String, registered: [String]) -> String? {
        if registered.contains(presented) { return presented }
        guard let given = RedirectURIParts(presented), given.isLoopbackHTTP, given.userInfo == nil,
              given.port.map(isValidPort) ?? true, presented.utf8.allSatisfy(isURICharacter), !presented.contains("#") else {
            return nil
        }
        return registered.first { candidate in
            guard let known = RedirectURIParts(candidate), known.isLoopbackHTTP else { return false }
            return known.rawScheme == given.rawScheme && known.host == given.host && known.path == given.path && known.query == given.query
        }
    }

    /// Characters RFC 3986 allows in a URI: unreserved, reserved and `%`.
    static func isURICharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~:/?#[]@!$&'()*+,;=%".utf8.contains(byte)
        }
    }

    static func hasValidPercentEscapes(_ uri: String) -> Bool {
        let bytes = Array(uri.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else { return false }
                index += 3
            } else {
                index += 1
            }
        }
        return true
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    static func isValidPort(_ port: String) -> Bool {
        !port.isEmpty && port.count <= 5 && port.allSatisfy(\.isASCIIDigit) && (Int(port) ?? 70_000) <= 65_535
    }

    /// A reg-name (no `[`, `]` or `:`) or a bracketed IP literal.
    static func isValidHost(_ host: String) -> Bool {
        if host.hasPrefix("[") {
            return host.count > 2 && host.hasSuffix("]") && host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !host.contains { $0 == "[" || $0 == "]" || $0 == ":" }
    }
}

/// A redirect URI split into the parts the policy looks at (RFC 3986 §3, without normalisation).
struct RedirectURIParts {
    /// The scheme as written, and lower-cased.
    var rawScheme: String
    var scheme: String
    var userInfo: String?
    /// The host of the authority (`nil` when there is no `//` authority); IPv6 literals keep their brackets.
    var host: String?
    var port: String?
    var path: String
    var query: String?

    var isLoopbackHTTP: Bool { scheme == "http" && host.map(RedirectURIPolicy.loopbackHosts.contains) == true }

    init?(_ uri: String) {
        guard let colon = uri.firstIndex(of: ":") else { return nil }
        let scheme = uri[..<colon]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }) else { return nil }
        rawScheme = String(scheme)
        self.scheme = scheme.lowercased()
        var rest = uri[uri.index(after: colon)...]
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(of: "/") ?? afterSlashes.endIndex
            var authority = afterSlashes[..<end]
            path = String(afterSlashes[end...])
            if let at = authority.lastIndex(of: "@") {
                userInfo = String(authority[..<at])
                authority = authority[authority.index(after: at)...]
            }
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[...close])
                let tail = authority[authority.index(after: close)...]
                if tail.hasPrefix(":") { port = String(tail.dropFirst()) } else if !tail.isEmpty { return nil }
            } else if let portColon = authority.lastIndex(of: ":") {
                host = String(authority[..<portColon])
                port = String(authority[authority.index(after: portColon)...])
            } else {
                host = String(authority)
            }
        } else {
            path = String(rest)
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
