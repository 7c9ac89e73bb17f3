import Foundation

/// `application/x-www-form-urlencoded` encoding and decoding (WHATWG URL standard rules).
public enum FormEncoding {
    private static let unreserved: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*")
        return set
    }()

    /// Percent-encodes one name or value; spaces become `+`.
    public static func encodeComponent(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte == 0x20 {
                out.append("+")
            } else if byte < 0x80, unreserved.contains(scalar) {
                out.append(Character(scalar))
            } else {
                out.append(String(format: "%%%02X", byte))
            }
        }
        return out
    }

    /// Encodes ordered pairs into a form body.
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(encodeComponent($0.0))=\(encodeComponent($0.1))" }.joined(separator: "&")
    }

    /// Decodes a form body into ordered pairs; malformed escapes are kept literally.
    public static func decode(_ body: String) -> [(String, String)] {
        body.split(separator: "&", omittingEmptySubsequences: true).map { part in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decodeComponent(String(pieces[0]))
            let value = pieces.count > 1 ? decodeComponent(String(pieces[1])) : ""
            return (name, value)
        }
    }

    /// Decodes one component: `+` is a space, `%XX` a byte.
    public static func decodeComponent(_ s: String) -> String {
        let replaced = s.replacingOccurrences(of: "+", with: " ")
        return replaced.removingPercentEncoding ?? replaced
    }
}
