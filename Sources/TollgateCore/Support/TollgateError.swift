/// A failure of an admin or store operation, fit for one line on stderr or in the console.
///
/// Never carries a secret: descriptions name rows and fields, not values.
public struct TollgateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure; new cases may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String { case notFound, conflict, invalidInput, storeUnavailable, damaged, crypto, upstream }
        fileprivate let value: Value
        public static let notFound = Code(value: .notFound)
        public static let conflict = Code(value: .conflict)
        public static let invalidInput = Code(value: .invalidInput)
        /// The database could not be opened or is busy beyond the timeout.
        public static let storeUnavailable = Code(value: .storeUnavailable)
        /// The database is not a Tollgate database, is newer than this build, or is corrupt.
        public static let damaged = Code(value: .damaged)
        /// A key is missing or does not match, or a ciphertext fails to open.
        public static let crypto = Code(value: .crypto)
        public static let upstream = Code(value: .upstream)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func notFound(_ message: String) -> TollgateError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> TollgateError { .init(.conflict, message) }
    public static func invalidInput(_ message: String) -> TollgateError { .init(.invalidInput, message) }
}
