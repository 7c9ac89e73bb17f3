/// Why the console could not take over the terminal; its description is one line for the user.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
