import ArgumentParser
import Foundation
import TollgateCore
import TollgateServer

extension GrantStatus: ExpressibleByArgument {}
extension GrantSort: ExpressibleByArgument {}
extension ProviderKind: ExpressibleByArgument {}
extension ClientAuthMethod: ExpressibleByArgument {}
extension ForwardedHeadersMode: ExpressibleByArgument {}

/// `on` or `off` on the command line (`serve --access-log`).
enum Toggle: String, ExpressibleByArgument, Sendable {
    case on, off
}

/// A length of time on the command line: `90` (seconds), `30s`, `15m`, `2h` or `7d`; positive, at most 10 years.
struct DurationArgument: Sendable {
    /// The length in seconds.
    let seconds: Int

    /// The largest accepted duration; the store keeps lifetimes as 64-bit seconds and dates must stay sane.
    static let maximum = 3650 * 86_400

    init(seconds: Int) { self.seconds = seconds }

    /// Parses strictly: digits, then at most one unit letter; nothing else.
    init(parsing text: String) throws {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var unit = 1
        if let last = text.last, let size = units[last] {
            unit = size
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ValidationError("'\(Output.singleLine(text))' is not a duration: use a number of seconds or e.g. 30s, 15m, 2h, 7d")
        }
        let (seconds, overflow) = (Int(digits) ?? Int.max).multipliedReportingOverflow(by: unit)
        guard !overflow, seconds <= Self.maximum else {
            throw ValidationError("'\(text)' is too long: at most \(Self.maximum / 86_400)d")
        }
        guard seconds > 0 else { throw ValidationError("'\(text)' must be longer than zero") }
        self.seconds = seconds
    }
}

/// Argument transforms that fail with a clear message (argument-parser shows it after the value).
enum Parse {
    /// A duration, see ``DurationArgument``.
    static func duration(_ text: String) throws -> DurationArgument { try DurationArgument(parsing: text) }

    /// A `name=value` pair; the name must be non-empty and free of spaces, `=`, `&` and `#`.
    static func keyValue(_ text: String) throws -> AuthorizeParam {
        guard let equals = text.firstIndex(of: "=") else {
            throw ValidationError("'\(Output.singleLine(text))' is not name=value")
        }
        let name = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        guard !name.isEmpty else { throw ValidationError("'\(Output.singleLine(text))' has an empty name") }
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "=&#?"))
        guard name.unicodeScalars.allSatisfy({ !forbidden.contains($0) }) else {
            throw ValidationError("parameter name '\(Output.singleLine(name))' may not contain spaces or = & # ?")
        }
        guard value.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw ValidationError("the value of '\(name)' contains control characters")
        }
        return AuthorizeParam(name: name, value: value)
    }

    /// An absolute `http`/`https` URL with a host.
    static func httpURL(_ text: String) throws -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw ValidationError("'\(Output.singleLine(text))' is not an absolute http(s) URL")
        }
        return text
    }

    /// A public base URL: absolute http(s), without query or fragment.
    static func baseURL(_ text: String) throws -> String {
        let checked = try httpURL(text)
        guard let url = URL(string: checked), url.query == nil, url.fragment == nil else {
            throw ValidationError("'\(Output.singleLine(text))' must not have a query or fragment")
        }
        return checked
    }

    /// A space-separated scope list (`"a b"`); empty items dropped, duplicates refused.
    static func scopes(_ text: String) throws -> ScopeList {
        let scopes = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        for scope in scopes {
            guard scope.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" }) else {
                throw ValidationError("scope '\(Output.singleLine(scope))' has characters RFC 6749 does not allow")
            }
        }
        guard Set(scopes).count == scopes.count else { throw ValidationError("scope list '\(text)' repeats a scope") }
        return ScopeList(items: scopes)
    }

    /// An environment variable name: letters, digits and `_`, not starting with a digit.
    static func environmentName(_ text: String) throws -> String {
        guard let first = text.unicodeScalars.first, !CharacterSet.decimalDigits.contains(first),
              text.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }) else {
            throw ValidationError("'\(Output.singleLine(text))' is not an environment variable name")
        }
        return text
    }
}

/// A parsed `--scopes "a b"` value.
struct ScopeList: Sendable {
    let items: [String]
}

/// `HOST:PORT` for a listener, e.g. `127.0.0.1:9000` or `[::1]:9000`; port 0 picks a free port.
struct ListenAddress: Sendable {
    let host: String
    let port: Int

    /// The address as a URL authority (IPv6 hosts in brackets).
    var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func parse(_ text: String) throws -> ListenAddress {
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("'\(Output.singleLine(text))' is not HOST:PORT")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw ValidationError("write an IPv6 host in brackets, e.g. [::1]:9000")
        }
        guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0 != "/" }) else {
            throw ValidationError("'\(Output.singleLine(text))' has no valid host")
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), port <= 65_535 else {
            throw ValidationError("'\(Output.singleLine(String(portText)))' is not a port (0-65535)")
        }
        return ListenAddress(host: host, port: port)
    }
}
