/// A secret string that never prints itself.
///
/// Wrap every token and client secret in this type as soon as it enters the program, so that string
/// interpolation, `print`, logging and `dump` show `<redacted>` instead of the value.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret value. Read it only at the point of use (an HTTP header, a hash, a cipher).
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}
