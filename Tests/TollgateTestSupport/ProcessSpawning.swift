import Foundation

/// Keeps the start of a child process apart from the tests that change process-wide C state (curses' `newterm`, the
/// locale, the standard error descriptor): swift-corelibs-foundation's `Process.run()` copies that state while it
/// spawns, and two such tests running in parallel crashed the test process.
public enum ProcessSpawning {
    private static let lock = NSLock()

    /// Starts `process` while no exclusive section runs.
    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }

    /// Runs `body` while no process is being started.
    public static func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
