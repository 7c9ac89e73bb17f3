import Foundation
import Testing
import TollgateConsole
import TollgateCore
import TollgateStores
import TollgateSQLite

/// A terminal that plays a script: each step waits until the last frame shows something, then sends input
/// (after running the step's side effect, if `whenShown` has one for that text).
final class ScriptedTerminal: ConsoleTerminal, @unchecked Sendable {
    var script: [(until: String, input: [TerminalInput])]
    let whenShown: [String: () -> Void]
    var frames: [ScreenBuffer] = []
    var themes: [Theme] = []
    /// What was written past the screen (OSC 52).
    var emitted: [[UInt8]] = []
    var size: (columns: Int, rows: Int) = (100, 30)
    let measure = DisplayWidth.builtin
    let glyphs = Glyphs.unicode
    let waker: @Sendable () -> Void = {}
    private let deadline = Date().addingTimeInterval(20)

    init(_ script: [(until: String, input: [TerminalInput])], whenShown: [String: () -> Void] = [:]) {
        self.script = script
        self.whenShown = whenShown
    }

    var lastText: String { frames.last?.text() ?? "" }

    func apply(_ theme: Theme) { themes.append(theme) }
    func draw(_ screen: ScreenBuffer) { frames.append(screen) }
    func emit(_ bytes: [UInt8]) { emitted.append(bytes) }

    func waitForInput(timeout: TimeInterval) -> [TerminalInput] {
        if Date() > deadline { return [.signal(SIGALRM)] }
        if let step = script.first, lastText.contains(step.until) {
            script.removeFirst()
            whenShown[step.until]?()
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

    /// The watcher (not a key, not a view switch) brings another process's commit onto the screen: the
    /// servers view is already showing when the other connection adds a server, and no key is sent until the
    /// new row is on screen. How fast it shows is a benchmark figure (change check, re-read), not asserted here.
    @Test func changesByAnotherProcessShowWithoutAKey() async throws {
        let h = try await StoreHarness(upstream: false)
        try await h.makeGrant(subject: "alice")
        // Another connection to the same file, as another `tollgate` process would have.
        let other = try await Tollgate.open(.sqlite(path: h.databasePath), environment: [:])
        let writeError = WriteErrorBox()
        let terminal = ScriptedTerminal([
            ("alice", [.key(.character(":"))] + "servers".map { .key(.character($0)) } + [.key(.enter)]),
            ("Servers (1)", []),
            ("zed-from-elsewhere", [.key(.character("q"))]),
        ], whenShown: ["Servers (1)": {
            // The loop runs on a thread of its own: it may wait here for the other process's write.
            let written = DispatchSemaphore(value: 0)
            Task {
                do {
                    _ = try await other.admin.addServer(NewServer(slug: "zed-from-elsewhere", upstreamMCPURL: "http://127.0.0.1:9/mcp"))
                } catch {
                    writeError.error = error
                }
                written.signal()
            }
            written.wait()
        }])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
        await runner.startWatching(interval: 0.2)
        let (exit, _) = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        runner.stop()
        #expect(writeError.error == nil)
        #expect(exit == .quit)
        #expect(terminal.script.isEmpty, "last screen:\n\(terminal.lastText)")
        await other.shutdown()
        await h.shutdown()
    }
}

/// Bulk revoke, copy and export through the loop, the real runner and a real store.
@Suite("Event loop: jobs and the clipboard", .serialized)
struct ConsoleLoopJobTests {
    func keys(_ text: String) -> [TerminalInput] { text.map { .key(.character($0)) } }

    @Test func aBulkRevokeRunsOffTheLoopAndRevokesExactlyTheSubject() async throws {
        let h = try await StoreHarness(upstream: false)
        var ids: [(Int64, String)] = []
        for subject in ["bob", "bobby", "bob", "alice", "bob"] { ids.append((try await h.makeGrant(subject: subject), subject)) }
        let terminal = ScriptedTerminal([
            ("Grants (5)", [.key(.character("/"))] + keys("bob") + [.key(.enter)]),
            ("filter: bob", keys("X")),
            ("Revoke 3 grants?", [.key(.tab), .key(.enter)]),
            ("subject=bob: 3 revoked", keys("q")),
        ])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
        let (exit, state) = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        #expect(exit == .quit)
        #expect(terminal.script.isEmpty, "last screen:\n\(terminal.lastText)")
        #expect(state.job == nil)
        #expect(terminal.frames.contains { $0.text().contains("The subject is matched exactly") })
        for (id, subject) in ids {
            #expect(try await h.tollgate.admin.grant(id: id).state == (subject == "bob" ? .revoked : .active), "grant \(id) of \(subject)")
        }
        await h.shutdown()
    }

    @Test func yWritesTheOSC52SequenceToTheTerminal() async throws {
        let h = try await StoreHarness(upstream: false)
        let id = try await h.makeGrant(subject: "alice")
        let terminal = ScriptedTerminal([("alice", keys("y")), ("copied \(id)", keys("q"))])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
        _ = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        #expect(terminal.script.isEmpty, "last screen:\n\(terminal.lastText)")
        let expected = Clipboard.sequence(for: String(id), inTmux: Clipboard.inTmux())
        #expect(terminal.emitted == [expected])
        let plain = "\u{1B}]52;c;" + Data(String(id).utf8).base64EncodedString() + "\u{07}"
        #expect(String(decoding: expected, as: UTF8.self).hasPrefix(plain))
        await h.shutdown()
    }

    @Test func exportStreamsEveryFilteredGrantToANewPrivateFile() async throws {
        let h = try await StoreHarness(upstream: false)
        for i in 0..<25 { try await h.makeGrant(subject: i % 5 == 0 ? "x,\"quoted\" \(i)" : "user\(i)") }
        // Short, so that the flash naming it fits the screen.
        let path = NSTemporaryDirectory() + "tg-\(UUID().uuidString.prefix(8)).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let terminal = ScriptedTerminal([
            ("Grants (25)", [.key(.character("/"))] + keys("user") + [.key(.enter)]),
            ("filter: user", [.key(.character(":"))] + keys("export csv \(path)") + [.key(.enter)]),
            ("exported 20 grants", [.key(.character(":"))] + keys("export csv \(path)") + [.key(.enter)]),
            ("exists; :export! replaces it", [.key(.escape), .key(.escape), .key(.character(":"))] + keys("export! csv \(path)") + [.key(.enter)]),
            ("exported 25 grants", keys("q")),
        ])
        let inbox = ConsoleInbox()
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
        _ = await runLoop(ConsoleState(now: Date(), columns: 100, rows: 30), terminal, runner, inbox)
        #expect(terminal.script.isEmpty, "last screen:\n\(terminal.lastText)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.components(separatedBy: "\r\n").dropLast()
        #expect(lines.count == 26, "a header and every grant (the filter was cleared before :export!)")
        #expect(lines.filter { $0.contains("\"x,\"\"quoted\"\" ") }.count == 5, "quoted as RFC 4180 says")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(!text.contains("upstream-access") && !text.contains("upstream-refresh"))
        await h.shutdown()
    }
}

/// The error of a write made from a script step, read by the test afterwards.
final class WriteErrorBox: @unchecked Sendable {
    var error: Error?
}
