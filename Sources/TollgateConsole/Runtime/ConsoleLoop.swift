import Foundation

/// The console's event loop: keys and runner events in, effects out, a frame after every change.
///
/// Runs on the thread that owns the terminal; nothing else touches the terminal. It ticks every second
/// (countdowns), ten times a second while a spinner turns, and otherwise sleeps in the terminal's wait.
public enum ConsoleLoop {
    public static func run(state: inout ConsoleState, terminal: some ConsoleTerminal, runner: ConsoleRunner,
                           inbox: ConsoleInbox, clock: () -> Date = Date.init) -> ConsoleExit {
        let renderer = Renderer(measure: terminal.measure, glyphs: terminal.glyphs)
        var exit = ConsoleExit.quit
        var appliedTheme = state.theme
        terminal.apply(appliedTheme)
        let tmux = Clipboard.inTmux()
        func carryOut(_ effects: [ConsoleEffect]) {
            for effect in effects {
                // The clipboard is the terminal's: only this thread writes to it.
                if case .copy(let text) = effect { terminal.emit(Clipboard.sequence(for: text, inTmux: tmux)) }
                runner.perform(effect)
            }
        }
        state.now = clock()
        let size = terminal.size
        carryOut(state.apply(.resized(columns: size.columns, rows: size.rows)))
        carryOut(state.start())
        terminal.draw(renderer.render(state))
        var nextTick = nextTickDate(after: state.now, busy: state.isBusy)
        while !state.isFinished {
            let wait = max(0, nextTick.timeIntervalSince(clock()))
            var dirty = false
            for input in terminal.waitForInput(timeout: wait) {
                switch input {
                case .key(let key):
                    carryOut(state.handle(key))
                case .resize(let columns, let rows):
                    carryOut(state.apply(.resized(columns: columns, rows: rows)))
                case .signal(let number):
                    exit = .signal(number)
                    state.isFinished = true
                }
                dirty = true
            }
            for event in inbox.drain() {
                carryOut(state.apply(event))
                dirty = true
            }
            let now = clock()
            if now >= nextTick {
                carryOut(state.apply(.tick(now)))
                nextTick = nextTickDate(after: now, busy: state.isBusy)
                dirty = true
            } else if state.isBusy && nextTick.timeIntervalSince(now) > 0.1 {
                nextTick = nextTickDate(after: now, busy: true)
            }
            if state.theme != appliedTheme {
                appliedTheme = state.theme
                terminal.apply(appliedTheme)
                dirty = true
            }
            if dirty && !state.isFinished { terminal.draw(renderer.render(state)) }
        }
        return exit
    }

    /// The next whole second (countdowns change then), or the next tenth while busy.
    static func nextTickDate(after date: Date, busy: Bool) -> Date {
        let step = busy ? 0.1 : 1.0
        let t = date.timeIntervalSince1970
        return Date(timeIntervalSince1970: (t / step).rounded(.down) * step + step)
    }
}
