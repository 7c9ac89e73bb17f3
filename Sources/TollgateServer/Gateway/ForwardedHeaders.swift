import Foundation
import NIOCore

/// What the gateway tells the MCP server about the original request: by default nothing, or what Tollgate
/// itself saw. Never what the client claims in `Forwarded` / `X-Forwarded-*` / `X-Real-IP` — a backend
/// would take those as vouched for by its proxy.
public enum ForwardedHeadersMode: String, Sendable, CaseIterable {
    /// Client-supplied forwarding headers are dropped and none is added.
    case drop
    /// Client-supplied forwarding headers are dropped and replaced with the peer address Tollgate saw and
    /// the scheme, host and port of its public URL.
    case set
}

/// The forwarding headers the gateway strips from every request and, in ``ForwardedHeadersMode/set``, writes itself.
public struct ForwardedHeaders: Sendable, Equatable {
    /// Lowercased names of every header that claims something about the client or the original request.
    static let names: Set<String> = [
        "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
        "x-forwarded-prefix", "x-forwarded-server", "x-real-ip",
    ]

    /// The peer's IP address (none for a Unix socket or an in-memory test).
    var clientAddress: String?
    /// The public URL's scheme, `host[:port]` and port.
    var proto: String
    var host: String
    var port: Int

    /// What Tollgate saw of a request from `peer` arriving at `publicBaseURL` (`scheme://host[:port]`).
    public init(peer: SocketAddress?, publicBaseURL: String) {
        clientAddress = peer?.ipAddress
        let schemeEnd = publicBaseURL.range(of: "://")
        proto = schemeEnd.map { publicBaseURL[..<$0.lowerBound].lowercased() } ?? "http"
        let rest = schemeEnd.map { publicBaseURL[$0.upperBound...] } ?? Substring(publicBaseURL)
        host = String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" })
        let defaultPort = proto == "https" ? 443 : 80
        // The port follows the last colon unless that colon is inside an IPv6 literal.
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]"), let explicit = Int(host[host.index(after: colon)...]) {
            port = explicit
        } else {
            port = defaultPort
        }
    }

    /// The header fields to send, in order.
    var fields: [(name: String, value: String)] {
        var out: [(String, String)] = []
        var forwarded: [String] = []
        if let clientAddress {
            out.append(("X-Forwarded-For", clientAddress))
            out.append(("X-Real-IP", clientAddress))
            forwarded.append("for=" + Self.forwardedValue(clientAddress.contains(":") ? "[\(clientAddress)]" : clientAddress))
        }
        out.append(("X-Forwarded-Proto", proto))
        out.append(("X-Forwarded-Host", host))
        out.append(("X-Forwarded-Port", String(port)))
        forwarded.append("host=" + Self.forwardedValue(host))
        forwarded.append("proto=" + Self.forwardedValue(proto))
        out.insert(("Forwarded", forwarded.joined(separator: ";")), at: 0)
        return out
    }

    /// An RFC 7239 value: a token as is, anything else (an IPv6 literal, `host:port`) quoted.
    static func forwardedValue(_ value: String) -> String {
        let tokenCharacters = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if !value.isEmpty, value.unicodeScalars.allSatisfy(tokenCharacters.contains) { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
