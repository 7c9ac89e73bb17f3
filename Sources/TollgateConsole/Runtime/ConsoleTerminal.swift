import Foundation

/// What the console loop needs from a terminal; ``TollgateTerminal``'s curses adapter is the real one, tests
/// can use a fake. All calls come from the loop's thread, except ``waker``.
public protocol ConsoleTerminal: AnyObject {
    /// The screen size in columns and rows.
    var size: (columns: Int, rows: Int) { get }
    /// How the terminal measures characters (the renderer must agree with it).
    var measure: DisplayWidth { get }
    /// Which glyphs the terminal can show.
    var glyphs: Glyphs { get }
    /// Sets up the colours (or attributes) of `theme`'s roles.
    func apply(_ theme: Theme)
    /// Shows `screen`.
    func draw(_ screen: ScreenBuffer)
    /// Waits up to `timeout` seconds for keys, a resize, a signal or a wake-up; returns what arrived.
    func waitForInput(timeout: TimeInterval) -> [TerminalInput]
    /// Ends a wait early; callable from any thread (the runner calls it when it posts an event).
    var waker: @Sendable () -> Void { get }
    /// Writes bytes to the terminal as they are, outside the screen (an OSC 52 clipboard sequence).
    func emit(_ bytes: [UInt8])
}

extension ConsoleTerminal {
    /// A terminal that cannot pass sequences through ignores them.
    public func emit(_ bytes: [UInt8]) {}
}

/// Input from the terminal.
public enum TerminalInput: Sendable, Equatable {
    case key(Key)
    case resize(columns: Int, rows: Int)
    /// SIGINT, SIGTERM or SIGHUP arrived: leave cleanly.
    case signal(Int32)
}

/// Why the console loop ended.
public enum ConsoleExit: Sendable, Equatable {
    case quit
    case signal(Int32)
}
