import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// A terminal that plays a script: each step waits until the last frame shows something, then sends input.
final class ScriptedTerminal: ConsoleTerminal, @unchecked Sendable {
    var script: [(until: String, input: [TerminalInput])]
    var frames: [ScreenBuffer] = []
    var themes: [Theme] = []
    var size: (columns: Int, rows: Int) = (100, 30)
    let measure = DisplayWidth.builtin
    let glyphs = Glyphs.unicode
    let waker: @Sendable () -> Void = {}
    private let deadline = Date().addingTimeInterval(20)

    init(_ script: [(until: String, input: [TerminalInput])]) {
        self.script = script
    }

    var lastText: String { frames.last?.text() ?? "" }

    func apply(_ theme: Theme) { themes.append(theme) }
    func draw(_ screen: ScreenBuffer) { frames.append(screen) }

    func waitForInput(timeout: TimeInterval) -> [TerminalInput] {
        if Date() > deadline { return [.signal(SIGALRM)] }
        if let step = script.first, lastText.contains(step.until) {
            script.removeFirst()
            return step.input
        }
        Thread.sleep(forTimeInterval: min(timeout, 0.02))
        return []
    }
}

/// Runs the loop on a thread of its own, as `tollgate console` does (it blocks; the runner's tasks must not
/// wait behind it in the cooperative pool).
func runLoop(_ state: ConsoleState, _ terminal: ScriptedTerminal, _ runner: ConsoleRunner, _ inbox: ConsoleInbox) async
    -> (ConsoleExit, ConsoleState) {
    await withCheckedContinuation { continuation in
        Thread {
            var state = state
            let exit = ConsoleLoop.run(state: &state, terminal: terminal, runner: runner, inbox: inbox)
            continuation.resume(returning: (exit, state))
        }.start()
    }
}

/// The event loop with a scripted terminal and a real store: keys, answers from the runner, ticks, changes
/// made through another connection, themes, signals.
@Suite("Event loop", .serialized)
struct ConsoleLoopTests {
    @Test func keysAnswersTicksAndSignals() async throws {
        let h = try await StoreHarness(upstream: false)
        let grantID = try await h.makeGrant(subject: "alice", expiresIn: 600)
        let terminal = ScriptedTerminal([
            ("alice", [.key(.enter)]),
            ("upstream access expires", [.key(.escape), .key(.character(":"))] + "theme light".map { .key(.character($0)) } + [.key(.enter)]),
            ("theme light", [.resize(columns: 60, rows: 15)]),
            ("Grants (1)", [.signal(SIGTERM)]),
        ])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: [FakeBackend.themesDirectory]), post: inbox.post)
        let (exit, state) = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        #expect(exit == .signal(SIGTERM))
        #expect(terminal.script.isEmpty, "the script ran to the end; last screen:\n\(terminal.lastText)")
        #expect(terminal.themes.map(\.name) == ["dark", "light"])
        #expect(terminal.frames.last?.columns == 60)
        #expect(state.detail?.grant.id == grantID)
        await h.shutdown()
    }

    @Test func changesByAnotherProcessShowWithinTwoSeconds() async throws {
        let h = try await StoreHarness(upstream: false)
        try await h.makeGrant(subject: "alice")
        // Another connection to the same file, as another `tollgate` process would have.
        let other = try Tollgate.open(databasePath: h.databasePath, environment: [:])
        let terminal = ScriptedTerminal([("alice", []), ("zed-from-elsewhere", [.key(.character("q"))])])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
        runner.startWatching(interval: 0.5)
        let started = Date()
        let writer = Task.detached {
            try await Task.sleep(for: .milliseconds(300))
            _ = try other.admin.addServer(NewServer(slug: "zed-from-elsewhere", upstreamMCPURL: "http://127.0.0.1:9/mcp"))
            return Date()
        }
        terminal.script.insert(("alice", [.key(.character(":"))] + "servers".map { .key(.character($0)) } + [.key(.enter)]), at: 1)
        let (exit, _) = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        runner.stop()
        let written = try await writer.value
        #expect(exit == .quit)
        #expect(terminal.script.isEmpty, "last screen:\n\(terminal.lastText)")
        let seen = Date()
        #expect(seen.timeIntervalSince(written) < 2.5, "seen \(seen.timeIntervalSince(written)) s after the write")
        #expect(seen.timeIntervalSince(started) < 10)
        await other.shutdown()
        await h.shutdown()
    }
}
