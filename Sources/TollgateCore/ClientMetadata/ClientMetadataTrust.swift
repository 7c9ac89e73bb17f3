import Foundation

/// Which client ID metadata documents a server accepts (its trust policy; `tollgate server add|set`).
public enum ClientMetadataTrust: Sendable, Equatable, Codable {
    /// Any document at an `https` URL that passes validation (the default).
    case anyHTTPS
    /// Only documents whose URL matches one of the patterns.
    case allowlist([ClientMetadataURLPattern])
    /// None: clients must register (dynamically or by an admin).
    case off

    /// Whether the server's metadata announces `client_id_metadata_document_supported`.
    public var isEnabled: Bool { self != .off }

    /// Whether a document at `url` is accepted; the error explains a refusal.
    public func check(_ url: ClientMetadataURL) throws(ClientMetadataError) {
        switch self {
        case .anyHTTPS:
            return
        case .off:
            throw ClientMetadataError(.notTrusted, "this server does not accept client ID metadata documents; register the client")
        case .allowlist(let patterns):
            guard patterns.contains(where: { $0.matches(url) }) else {
                throw ClientMetadataError(.notTrusted, "the client ID metadata document at \(url.host) is not on this server's allowlist")
            }
        }
    }

    /// One line for `server show` and the audit trail.
    public var summary: String {
        switch self {
        case .anyHTTPS: return "any https document"
        case .off: return "off"
        case .allowlist(let patterns): return "allowlist " + patterns.map(\.text).joined(separator: " ")
        }
    }

    private enum CodingKeys: String, CodingKey { case mode, patterns }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .mode) {
        case "any": self = .anyHTTPS
        case "off": self = .off
        case "allowlist":
            let texts = try c.decode([String].self, forKey: .patterns)
            self = .allowlist(try texts.map { text in
                do { return try ClientMetadataURLPattern(text) } catch {
                    throw DecodingError.dataCorruptedError(forKey: .patterns, in: c, debugDescription: "\(error)")
                }
            })
        default:
            throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "unknown client metadata trust mode")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .anyHTTPS: try c.encode("any", forKey: .mode)
        case .off: try c.encode("off", forKey: .mode)
        case .allowlist(let patterns):
            try c.encode("allowlist", forKey: .mode)
            try c.encode(patterns.map(\.text), forKey: .patterns)
        }
    }
}

/// One entry of a trust allowlist. Three forms, all `https`:
///
/// - an exact document URL, `https://app.example.com/oauth/client.json`: that URL only;
/// - a prefix ending in `/`, `https://app.example.com/clients/`: any document URL on that host (and port) whose
///   path starts with the pattern's path;
/// - a host wildcard, `https://*.example.com/` (a path prefix ending in `/` may follow the host): any host that
///   ends in `.example.com` (at least one more label; not `example.com` itself), with the path rule above.
///
/// Hosts compare case-insensitively, paths exactly. No other wildcard, no query, no fragment.
public struct ClientMetadataURLPattern: Sendable, Equatable, CustomStringConvertible {
    /// The pattern as given.
    public let text: String
    /// The host (lower-cased) or, for a wildcard, the suffix after `*` (`.example.com`).
    let host: String
    let isWildcard: Bool
    let port: Int?
    let path: String

    /// Parses a pattern; the error says what is wrong with it.
    public init(_ text: String) throws(ClientMetadataError) {
        func refuse(_ reason: String) -> ClientMetadataError {
            ClientMetadataError(.invalidURL, "'\(UpstreamError.sanitize(text, limit: 80))' is not an allowlist pattern: \(reason)")
        }
        guard text.hasPrefix("https://") else { throw refuse("it must start with https://") }
        guard !text.contains("?"), !text.contains("#") else { throw refuse("it must not have a query or fragment") }
        let rest = text.dropFirst("https://".count)
        guard let slash = rest.firstIndex(of: "/") else { throw refuse("it needs a path (at least /) after the host") }
        var authority = String(rest[..<slash]).lowercased()
        let wildcard = authority.hasPrefix("*.")
        if wildcard { authority.removeFirst() }
        // The rest is checked as a document URL would be (host, port, characters, dot segments).
        let probePath = rest[slash...].hasSuffix("/") ? String(rest[slash...]) + "x" : String(rest[slash...])
        let probe: ClientMetadataURL
        do {
            probe = try ClientMetadataURL("https://" + (wildcard ? "w" : "") + authority + probePath)
        } catch {
            throw refuse(error.reason)
        }
        guard !authority.contains("*") else { throw refuse("only a leading *. wildcard is allowed in the host") }
        if wildcard, !rest[slash...].hasSuffix("/") { throw refuse("a wildcard pattern's path must end in /") }
        if wildcard, probe.host.split(separator: ".").count < 3 {
            throw refuse("a wildcard must leave at least two labels (*.example.com)")
        }
        self.text = text
        isWildcard = wildcard
        host = wildcard ? String(probe.host.dropFirst()) : probe.host
        port = probe.port
        path = String(rest[slash...])
    }

    /// Whether the document URL `url` matches this pattern.
    public func matches(_ url: ClientMetadataURL) -> Bool {
        guard url.port == port else { return false }
        if isWildcard {
            guard url.host.hasSuffix(host), url.host.count > host.count else { return false }
        } else {
            guard url.host == host else { return false }
        }
        if path.hasSuffix("/") { return url.path.hasPrefix(path) }
        return url.path == path && !url.text.contains("?")
    }

    public var description: String { text }
}
