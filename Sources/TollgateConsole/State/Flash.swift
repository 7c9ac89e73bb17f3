import Foundation

/// A message at the bottom of the screen that goes away by itself.
public struct Flash: Equatable, Sendable {
    /// How serious a message is.
    public enum Level: String, Sendable {
        case info, warning, error

        /// The word in front of the message: the level never depends on colour alone.
        public var prefix: String {
            switch self {
            case .info: return "info"
            case .warning: return "warning"
            case .error: return "error"
            }
        }

        /// How long a message of this level stays.
        public var duration: TimeInterval {
            switch self {
            case .info: return 4
            case .warning: return 6
            case .error: return 8
            }
        }
    }

    /// The level, the text, and when the message goes away.
    public var level: Level
    public var text: String
    public var expires: Date

    /// A message shown from `now` for its level's duration.
    public init(_ level: Level, _ text: String, now: Date) {
        self.level = level
        self.text = text
        expires = now.addingTimeInterval(level.duration)
    }
}
