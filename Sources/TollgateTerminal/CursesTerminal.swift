import CNcursesw
import Foundation
import Glibc
import TollgateConsole

/// The ncurses adapter: takes over the terminal, draws ``ScreenBuffer``s, reads keys. Nothing else in
/// Tollgate calls curses.
///
/// Not thread-safe by design: create it, use it and close it on one thread — ``run(environment:logPath:_:)``
/// gives it a thread of its own. Only ``waker`` may be called from elsewhere (it writes to a pipe).
public final class CursesTerminal: ConsoleTerminal {
    private let screen: OpaquePointer
    private let outputFile: UnsafeMutablePointer<FILE>
    private let inputFile: UnsafeMutablePointer<FILE>
    private let ownsFiles: Bool
    private let inputFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let signals: SignalTrap?
    private let stderr: StderrRedirect?
    private var previous: ScreenBuffer?
    private var styles: [StyleRole: (attributes: attr_t, pair: Int16)] = [:]
    private var closed = false

    public let measure: DisplayWidth
    public let glyphs: Glyphs
    /// The colours the terminal has (``ColorPalette/none`` with `NO_COLOR`).
    public let palette: ColorPalette
    public let waker: @Sendable () -> Void

    /// Takes over the controlling terminal (stdin/stdout).
    ///
    /// `setlocale` first, then `newterm` (a bad `TERM` is an error, not an exit), cbreak without echo, keypad,
    /// `set_escdelay(25)`, no cursor, the terminal's default colours. SIGINT/SIGTERM/SIGHUP are trapped, crash
    /// signals restore the terminal, and stderr goes to `logPath` (or nowhere) until ``close()``.
    public convenience init(environment: [String: String] = ProcessInfo.processInfo.environment, logPath: String? = nil) throws {
        setlocale(LC_ALL, "")
        guard isatty(0) == 1, isatty(1) == 1 else {
            throw TerminalError("the console needs a terminal: standard input and output must be a TTY")
        }
        guard let term = environment["TERM"], !term.isEmpty else {
            throw TerminalError("TERM is not set; the console needs to know the terminal type (for example TERM=xterm-256color)")
        }
        try self.init(term: term, input: tg_stdin(), output: tg_stdout(), ownsFiles: false, interactive: true,
                      noColor: !(environment["NO_COLOR"] ?? "").isEmpty, logPath: logPath)
    }

    /// A terminal drawing into `outputPath` and reading `inputPath` (both `/dev/null` by default): for tests
    /// of the adapter without a real terminal. No signal handling, stderr untouched; `locale` is set for the
    /// process (wide characters need a UTF-8 one).
    public static func headless(term: String = "xterm-256color", noColor: Bool = false, locale: String = "C.UTF-8",
                                inputPath: String = "/dev/null", outputPath: String = "/dev/null") throws -> CursesTerminal {
        // setlocale is not thread-safe: change the process's locale only when it differs (tests run in parallel).
        if setlocale(LC_ALL, nil).map({ String(cString: $0) }) != locale { setlocale(LC_ALL, locale) }
        guard let output = fopen(outputPath, "w"), let input = fopen(inputPath, "r") else {
            throw TerminalError("cannot open \(outputPath) or \(inputPath)")
        }
        return try CursesTerminal(term: term, input: input, output: output, ownsFiles: true, interactive: false,
                                  noColor: noColor, logPath: nil)
    }

    private init(term: String, input: UnsafeMutablePointer<FILE>, output: UnsafeMutablePointer<FILE>, ownsFiles: Bool,
                 interactive: Bool, noColor: Bool, logPath: String?) throws {
        var fds: [Int32] = [-1, -1]
        guard makePipe(&fds) else { throw TerminalError("cannot create the wake-up pipe") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let wakeFD = fds[1]
        waker = {
            var byte: UInt8 = 1
            _ = write(wakeFD, &byte, 1)
        }
        inputFD = fileno(input)
        if interactive {
            SignalTrap.saveTerminalModes(inputFD)
            do {
                signals = try SignalTrap()
            } catch {
                Glibc.close(fds[0]); Glibc.close(fds[1])
                throw error
            }
        } else {
            signals = nil
        }
        // Checked first: ncurses would print its own message and exit on an unknown terminal type.
        var setupError: Int32 = 0
        if setupterm(term, fileno(output), &setupError) != OK {
            signals?.release()
            Glibc.close(fds[0]); Glibc.close(fds[1])
            if ownsFiles { fclose(input); fclose(output) }
            throw TerminalError(setupError == 0
                ? "unknown terminal type '\(term)' (TERM): it is not in the terminfo database; try TERM=xterm-256color"
                : "cannot use terminal type '\(term)' (TERM): the terminfo entry is unusable")
        }
        if let current = tg_cur_term() { del_curterm(current) }
        guard let screen = newterm(term, output, input) else {
            signals?.release()
            Glibc.close(fds[0]); Glibc.close(fds[1])
            if ownsFiles { fclose(input); fclose(output) }
            throw TerminalError("cannot start curses on terminal type '\(term)' (TERM)")
        }
        self.screen = screen
        outputFile = output
        inputFile = input
        self.ownsFiles = ownsFiles
        set_term(screen)
        cbreak()
        noecho()
        nonl()
        intrflush(tg_stdscr(), false)
        keypad(tg_stdscr(), true)
        nodelay(tg_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        var colors = false
        if has_colors() {
            colors = start_color() == OK
            if colors { use_default_colors() }
        }
        palette = ColorPalette.forTerminal(colors: Int(tg_colors()), hasColors: colors, noColor: noColor)
        let utf8 = String(cString: nl_langinfo(nl_item(CODESET))).uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        glyphs = utf8 ? .unicode : .ascii
        measure = DisplayWidth { scalar in
            let width = tg_wcwidth(wchar_t(bitPattern: scalar.value))
            return width < 0 ? nil : Int(width)
        }
        if interactive {
            signals?.trapResize()
            stderr = StderrRedirect(to: logPath)
            SignalTrap.armCrashRestore(Self.resetSequence())
        } else {
            stderr = nil
        }
        erase()
    }

    /// The terminal's strings that undo what curses set: leave the alternate screen, show the cursor,
    /// reset attributes, leave keypad mode.
    private static func resetSequence() -> [UInt8] {
        var bytes: [UInt8] = []
        for capability in ["sgr0", "cnorm", "rmkx", "rmcup"] {
            guard let value = tigetstr(capability), Int(bitPattern: value) != -1 else { continue }
            bytes += Array(String(cString: value).utf8)
        }
        return bytes
    }

    /// Gives the terminal back exactly as it was (modes, screen, cursor), then stderr and the signal handlers.
    public func close() {
        guard !closed else { return }
        closed = true
        endwin()
        delscreen(screen)
        if ownsFiles {
            fclose(outputFile)
            fclose(inputFile)
        } else {
            fflush(outputFile)
        }
        stderr?.restore()
        if signals != nil { SignalTrap.disarmCrashRestore() }
        signals?.release()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    deinit { close() }

    /// Runs `body` with a terminal on a thread of its own: every curses call happens on that thread, and the
    /// terminal is closed (restored) before this returns, whether `body` returns or throws.
    public static func run<T: Sendable>(environment: [String: String] = ProcessInfo.processInfo.environment, logPath: String? = nil,
                                        _ body: @escaping @Sendable (CursesTerminal) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let result: Result<T, Error>
                do {
                    let terminal = try CursesTerminal(environment: environment, logPath: logPath)
                    result = Result { try body(terminal) }
                    terminal.close()
                } catch {
                    result = .failure(error)
                }
                continuation.resume(with: result)
            }
            thread.name = "tollgate-console-ui"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    public var size: (columns: Int, rows: Int) {
        (Int(getmaxx(tg_stdscr())), Int(getmaxy(tg_stdscr())))
    }

    // MARK: Drawing

    /// Installs the styles of a theme; the next frame is drawn in full.
    func setStyles(_ newStyles: [StyleRole: (attributes: attr_t, pair: Int16)]) {
        styles = newStyles
        previous = nil
    }

    /// The descriptors the input wait polls: the terminal, the wake-up pipe, the signal pipe.
    var pollDescriptors: (input: Int32, wake: Int32, signals: Int32?) { (inputFD, wakeRead, signals?.readFD) }

    /// Signals that arrived (SIGWINCH only wakes the wait: curses reports the resize as a key).
    func takeSignals() -> [Int32] { (signals?.drain() ?? []).filter { $0 != SIGWINCH } }

    public func draw(_ buffer: ScreenBuffer) {
        let full = previous.map { $0.columns != buffer.columns || $0.rows != buffer.rows } ?? true
        if full { erase() }
        var cchar = cchar_t()
        var text = [wchar_t](repeating: 0, count: 6)
        for row in 0..<buffer.rows {
            for column in 0..<buffer.columns {
                let cell = buffer[column, row]
                if cell.width == 0 { continue }
                if !full, let previous, previous[column, row] == cell { continue }
                var n = 0
                for scalar in cell.character.unicodeScalars where n < 5 {
                    text[n] = wchar_t(bitPattern: scalar.value)
                    n += 1
                }
                text[n] = 0
                let style = styles[cell.role] ?? (tg_attr_normal(), 0)
                setcchar(&cchar, text, style.attributes, style.pair, nil)
                mvwadd_wch(tg_stdscr(), Int32(row), Int32(column), &cchar)
            }
        }
        wnoutrefresh(tg_stdscr())
        doupdate()
        previous = buffer
    }

    /// Writes `bytes` straight to the terminal, after what curses has drawn (OSC 52: nothing on screen moves).
    public func emit(_ bytes: [UInt8]) {
        fflush(outputFile)
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, outputFile) }
        fflush(outputFile)
    }

    /// What is on the curses screen at a position (for the adapter's tests): the text, its attributes, its pair.
    public func drawnCell(row: Int, column: Int) -> (text: String, attributes: TextAttributes, pair: Int) {
        var cchar = cchar_t()
        mvwin_wch(tg_stdscr(), Int32(row), Int32(column), &cchar)
        var text = [wchar_t](repeating: 0, count: 8)
        var attributes: attr_t = 0
        var pair: Int16 = 0
        getcchar(&cchar, &text, &attributes, &pair, nil)
        let string = String(String.UnicodeScalarView(text.prefix { $0 != 0 }.compactMap { Unicode.Scalar(UInt32(bitPattern: $0)) }))
        var found: TextAttributes = []
        for (flag, value) in Self.attributeMap where attributes & flag != 0 { found.insert(value) }
        return (string, found, Int(pair))
    }

    static let attributeMap: [(attr_t, TextAttributes)] = [
        (tg_attr_bold(), .bold), (tg_attr_dim(), .dim), (tg_attr_italic(), .italic), (tg_attr_underline(), .underline),
        (tg_attr_reverse(), .reverse),
    ]
}
