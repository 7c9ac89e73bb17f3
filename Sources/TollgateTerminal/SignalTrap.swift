import CNcursesw
import Glibc

/// SIGINT, SIGTERM and SIGHUP become bytes on a pipe that the event loop polls, so that the loop leaves
/// through its normal path and restores the terminal; crash signals restore the terminal modes and hand
/// the signal on. This is the only file that calls the shim's signal helpers (their state is per file).
final class SignalTrap {
    /// Memory the C handlers read; allocated once and kept for the life of the process, because a signal
    /// can arrive at any time.
    nonisolated(unsafe) private static let previousActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 3)
    nonisolated(unsafe) private static let previousCrashActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 6)
    nonisolated(unsafe) private static let savedModes = UnsafeMutablePointer<termios>.allocate(capacity: 1)
    nonisolated(unsafe) private static let resetBytes = UnsafeMutablePointer<CChar>.allocate(capacity: 512)
    nonisolated(unsafe) private static let cursesResize = UnsafeMutablePointer<sigaction>.allocate(capacity: 1)

    /// The read end: one byte per signal, its number.
    let readFD: Int32
    private let writeFD: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard makePipe(&fds) else { throw TerminalError("cannot create a pipe for signals") }
        readFD = fds[0]
        writeFD = fds[1]
        tg_unblock_console_signals()
        guard tg_trap_signals(writeFD, Self.previousActions) == 0 else {
            Glibc.close(readFD)
            Glibc.close(writeFD)
            throw TerminalError("cannot install signal handlers")
        }
    }

    /// Wakes the loop on SIGWINCH too (after curses installed its handler, which still runs first).
    func trapResize() {
        _ = tg_trap_resize(Self.cursesResize)
    }

    /// Saves the terminal modes of `fd`, for the crash path (call before curses changes them).
    static func saveTerminalModes(_ fd: Int32) {
        _ = tg_save_terminal_modes(fd, savedModes)
    }

    /// From now on a crash writes `reset` (the terminal's own reset strings) after restoring the modes.
    static func armCrashRestore(_ reset: [UInt8]) {
        let count = min(reset.count, 512)
        for i in 0..<count { resetBytes[i] = CChar(bitPattern: reset[i]) }
        tg_arm_crash_restore(resetBytes, count, previousCrashActions)
    }

    static func disarmCrashRestore() {
        tg_disarm_crash_restore()
    }

    /// The signals that arrived since the last call.
    func drain() -> [Int32] {
        var signals: [Int32] = []
        var byte: UInt8 = 0
        while read(readFD, &byte, 1) == 1 { signals.append(Int32(byte)) }
        return signals
    }

    /// Puts the previous handlers back.
    func release() {
        tg_untrap_signals()
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }
}

/// A pipe whose ends do not block and are not inherited by child processes.
func makePipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    return true
}
