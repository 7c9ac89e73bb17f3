import Foundation

/// A JSON value as received from an untrusted peer; decoding never crashes on unexpected shapes.
public enum JSONValue: Decodable, Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Parses a JSON object; `nil` for anything else.
    public static func object(from data: Data) -> [String: JSONValue]? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let o) = value else { return nil }
        return o
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayOfStrings: [String]? {
        guard case .array(let a) = self else { return nil }
        return a.compactMap(\.stringValue)
    }
}
