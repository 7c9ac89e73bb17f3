import CNcursesw
import Foundation
import Glibc
import TollgateConsole

extension CursesTerminal {
    /// Waits (in `poll`) for keys, a wake-up from another thread, a signal, or `timeout`; then reads every
    /// key curses has. A resize arrives as `KEY_RESIZE` (ncurses' SIGWINCH handler interrupts the wait).
    public func waitForInput(timeout: TimeInterval) -> [TerminalInput] {
        var inputs = takeSignals().map(TerminalInput.signal)
        inputs += readKeys()
        if !inputs.isEmpty { return inputs }
        let fds = pollDescriptors
        var polled = [pollfd(fd: fds.input, events: Int16(POLLIN), revents: 0), pollfd(fd: fds.wake, events: Int16(POLLIN), revents: 0)]
        if let signalFD = fds.signals { polled.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&polled, nfds_t(polled.count), Int32(max(0, min(timeout, 60)) * 1000))
        var byte: UInt8 = 0
        while read(fds.wake, &byte, 1) == 1 {}
        inputs = takeSignals().map(TerminalInput.signal)
        inputs += readKeys()
        return inputs
    }

    /// Every key curses has buffered (the window is in no-delay mode).
    func readKeys() -> [TerminalInput] {
        var inputs: [TerminalInput] = []
        while inputs.count < 256 {
            var code: wint_t = 0
            let result = wget_wch(tg_stdscr(), &code)
            if result == ERR { break }
            if result == tg_key_code_yes() {
                if Int32(code) == KEY_RESIZE {
                    inputs.append(.resize(columns: size.columns, rows: size.rows))
                } else if let key = Self.functionKey(Int32(code)) {
                    inputs.append(.key(key))
                }
            } else if let key = Self.characterKey(UInt32(code)) {
                inputs.append(.key(key))
            }
        }
        return inputs
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_BTAB: return .backTab
        default: return nil
        }
    }

    static func characterKey(_ code: UInt32) -> Key? {
        switch code {
        case 10, 13: return .enter
        case 27: return .escape
        case 9: return .tab
        case 8, 127: return .backspace
        case 1...26: return .control(Character(Unicode.Scalar(UInt8(code) + 96)))
        default:
            guard code >= 32, let scalar = Unicode.Scalar(code) else { return nil }
            return .character(Character(scalar))
        }
    }
}
