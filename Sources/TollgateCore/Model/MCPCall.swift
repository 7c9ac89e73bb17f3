import Foundation

/// What a POSTed MCP message asks for, read from its JSON-RPC body: the method and, for `tools/call`,
/// `prompts/get` (`params.name`) and `resources/read` (`params.uri`), the name it acts on. The gateway decides
/// scopes from this, never from the `Mcp-Method` / `Mcp-Name` headers (it only checks that they agree).
public struct MCPCall: Sendable, Equatable {
    /// `nil` for a JSON-RPC response (a client answering a server's request): it needs no scope.
    public let method: String?
    /// `params.name` or `params.uri`, for the methods that carry one; `nil` otherwise.
    public let name: String?
    /// The JSON-RPC id, to answer a refused request in kind (a string, a number or `nil`).
    public let id: JSONValue?

    /// Why a body is not one MCP message.
    public enum Refusal: Error, Equatable {
        /// Not JSON, or not a JSON-RPC 2.0 object (JSON-RPC -32700 / -32600).
        case notJSONRPC(String)
        /// A JSON array: the 2026-07-28 Streamable HTTP transport allows one message per POST.
        case batch
    }

    /// The methods whose `Mcp-Name` mirrors `params.name`.
    static let namedByName: Set<String> = ["tools/call", "prompts/get"]
    /// The methods whose `Mcp-Name` mirrors `params.uri`.
    static let namedByURI: Set<String> = ["resources/read"]

    public init(method: String?, name: String?, id: JSONValue? = nil) {
        self.method = method
        self.name = name
        self.id = id
    }

    /// Reads one JSON-RPC message.
    public init(body: Data) throws(Refusal) {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: body) } catch {
            throw .notJSONRPC("the body is not JSON")
        }
        switch value {
        case .array: throw .batch
        case .object(let object):
            guard object["jsonrpc"] == .string("2.0") else { throw .notJSONRPC("the body is not a JSON-RPC 2.0 message") }
            let id = object["id"]
            guard let methodValue = object["method"] else {
                guard object["result"] != nil || object["error"] != nil else {
                    throw .notJSONRPC("a JSON-RPC message needs a method, a result or an error")
                }
                self.init(method: nil, name: nil, id: id)
                return
            }
            guard let method = methodValue.stringValue, !method.isEmpty else { throw .notJSONRPC("method must be a non-empty string") }
            var name: String?
            let key: String? = Self.namedByName.contains(method) ? "name" : Self.namedByURI.contains(method) ? "uri" : nil
            if let key {
                guard case .object(let params)? = object["params"], let named = params[key]?.stringValue else {
                    throw .notJSONRPC("\(method) needs params.\(key) (a string)")
                }
                name = named
            }
            // JSONDecoder keeps the first of repeated members, most other readers (JSONSerialization, Python's json,
            // the backend's SDK) the last: a body that names one tool first and another last must not be judged by
            // one and run as the other.
            guard Self.lastMembers(of: body, nameKey: key) == (method, name) else {
                throw .notJSONRPC("the body repeats the method or params.\(key ?? "name") member with different values")
            }
            self.init(method: method, name: name, id: id)
        default:
            throw .notJSONRPC("the body is not a JSON-RPC 2.0 message")
        }
    }

    /// `method` and `params.<nameKey>` as a reader that keeps the last of repeated members sees them.
    static func lastMembers(of body: Data, nameKey: String?) -> (String?, String?) {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return (nil, nil) }
        let name = nameKey.flatMap { (object["params"] as? [String: Any])?[$0] as? String }
        return (object["method"] as? String, name)
    }

    /// Why the `Mcp-Method` and `Mcp-Name` headers (each `nil` when absent) disagree with this body, in the words
    /// of the transport's `HeaderMismatch` error; `nil` when they agree. `Mcp-Name` may be Base64 sentinel-encoded
    /// (`=?base64?…?=`) and is compared decoded. An absent header is not checked.
    public func headerMismatch(methodHeader: String?, nameHeader: String?) -> String? {
        if let methodHeader, methodHeader != (method ?? "") {
            return "Header mismatch: Mcp-Method header value '\(Self.quoted(methodHeader))' does not match body value '\(Self.quoted(method ?? ""))'"
        }
        if let nameHeader {
            guard let decoded = Self.decodedHeaderValue(nameHeader) else {
                return "Header mismatch: Mcp-Name header value is not valid Base64-encoded UTF-8"
            }
            guard decoded == name else {
                return "Header mismatch: Mcp-Name header value '\(Self.quoted(decoded))' does not match body value '\(Self.quoted(name ?? ""))'"
            }
        }
        return nil
    }

    /// A header value with the transport's Base64 sentinel (`=?base64?…?=`) decoded; plain values as they are;
    /// `nil` for a sentinel whose content is not Base64 of UTF-8.
    static func decodedHeaderValue(_ value: String) -> String? {
        let prefix = "=?base64?", suffix = "?="
        guard value.hasPrefix(prefix), value.hasSuffix(suffix), value.count >= prefix.count + suffix.count else { return value }
        let encoded = String(value.dropFirst(prefix.count).dropLast(suffix.count))
        guard let data = Data(base64Encoded: encoded) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    /// A value for an error message: one line, at most 80 characters.
    static func quoted(_ text: String) -> String {
        UpstreamError.sanitize(text, limit: 80)
    }
}
