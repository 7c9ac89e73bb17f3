// A bulk revoke of 10,000 grants started from the console, with the console's real event loop (ConsoleLoop)
// running on a thread of its own over a scripted terminal that keeps pressing j/k: how long the revoke takes,
// and how long each frame (keys + events applied + render) and each key's wait for its frame take meanwhile.
import Foundation
import Synchronization
import TollgateConsole
import TollgateCore

/// A terminal that types a script and records when it drew: the benchmark's stand-in for curses.
final class ScriptedTerminal: ConsoleTerminal, @unchecked Sendable {
    let size = (columns: 120, rows: 40)
    let measure = DisplayWidth.builtin
    let glyphs = Glyphs.unicode
    private let wake = DispatchSemaphore(value: 0)
    var waker: @Sendable () -> Void { { [wake] in wake.signal() } }
    /// What the script reacts to: the text of the last frame.
    private(set) var lastScreen = ""
    /// Durations of each loop iteration (from the end of a wait to its frame), and key-to-frame latencies (ms).
    private(set) var frames: [Double] = []
    private(set) var keyToFrame: [Double] = []
    private var woke = Date()
    private var keyAt: Date?
    private var pending: [Key] = []
    /// Decides the next keys from the screen; `nil` when it has none now.
    var script: (String) -> [Key]? = { _ in nil }
    /// Keys are pressed this often while the script offers them.
    var keyInterval: TimeInterval = 0.03
    private var lastKey = Date.distantPast
    var recording = false

    func apply(_ theme: Theme) {}

    func draw(_ screen: ScreenBuffer) {
        let now = Date()
        if recording {
            frames.append(now.timeIntervalSince(woke) * 1000)
            if let keyAt { keyToFrame.append(now.timeIntervalSince(keyAt) * 1000) }
        }
        keyAt = nil
        lastScreen = screen.text()
    }

    func waitForInput(timeout: TimeInterval) -> [TerminalInput] {
        let untilKey = max(0, keyInterval - Date().timeIntervalSince(lastKey))
        _ = wake.wait(timeout: .now() + min(timeout, untilKey))
        woke = Date()
        guard woke.timeIntervalSince(lastKey) >= keyInterval else { return [] }
        if pending.isEmpty, let next = script(lastScreen) { pending = next }
        guard !pending.isEmpty else { return [] }
        lastKey = woke
        keyAt = woke
        return [.key(pending.removeFirst())]
    }
}

func runBulkBenchmark(backend: BenchBackend) async throws {
    let count = 10_000
    print("Bulk revoke of \(count) grants from the console (its event loop running, j/k every 30 ms)")
    let fixture = try await Fixture(name: "bulk", backend: backend)
    try await bulkGrants(fixture.tollgate.store, serverID: fixture.server.id, clientID: fixture.client.client.id, count: count)
    let inbox = ConsoleInbox()
    let runner = ConsoleRunner(tollgate: fixture.tollgate, themes: ThemeLibrary(directories: []), post: inbox.post)
    let terminal = ScriptedTerminal()
    inbox.setWaker(terminal.waker)
    let started = Mutex<Date?>(nil)
    let finished = Mutex<Date?>(nil)
    var step = 0
    terminal.script = { screen in
        switch step {
        case 0 where screen.contains("Grants (\(grouped(count)))"):
            step = 1
            return [.character("/")] + "server:bench".map { .character($0) } + [.enter]
        case 1 where screen.contains("filter: server:bench"):
            step = 2
            return [.character("X")]
        case 2 where screen.contains("Revoke \(grouped(count)) grants?"):
            step = 3
            started.withLock { $0 = Date() }
            terminal.recording = true
            return [.tab, .enter]
        case 3 where screen.contains("\(count) revoked"):
            finished.withLock { $0 = Date() }
            terminal.recording = false
            step = 4
            return [.character("q")]
        case 3:
            return [terminal.frames.count % 2 == 0 ? .character("j") : .character("k")]
        default:
            return nil
        }
    }
    let done = DispatchSemaphore(value: 0)
    // The loop on a thread of its own, as `tollgate console` runs it; the revoke runs on the cooperative pool.
    let loop = Thread {
        var state = ConsoleState(now: Date(), columns: 120, rows: 40)
        _ = ConsoleLoop.run(state: &state, terminal: terminal, runner: runner, inbox: inbox)
        done.signal()
    }
    loop.start()
    while done.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(50)) }
    runner.stop()
    let revoked = try await fixture.tollgate.admin.countGrants(GrantQuery(status: .revoked), upTo: Int.max)
    await fixture.tollgate.shutdown()
    await fixture.database.remove()
    guard let start = started.withLock({ $0 }), let end = finished.withLock({ $0 }) else { fatalError("the bulk revoke did not finish") }
    precondition(revoked == count, "\(revoked) of \(count) grants were revoked")
    func ms(_ v: Double) -> String { String(format: "%.2f ms", v) }
    let frames = terminal.frames, keys = terminal.keyToFrame
    report("bulk revoke \(count) grants from the console (confirm to summary)", String(format: "%.2f s (%.0f grants/s)",
           end.timeIntervalSince(start), Double(count) / end.timeIntervalSince(start)))
    report("bulk:   frames meanwhile (\(frames.count)): work per frame p50/p99/max", "\(ms(pct(frames, 0.5))) / \(ms(pct(frames, 0.99))) / \(ms(frames.max() ?? 0))")
    report("bulk:   j/k key to frame (\(keys.count) keys) p50/p99/max", "\(ms(pct(keys, 0.5))) / \(ms(pct(keys, 0.99))) / \(ms(keys.max() ?? 0))")
}

/// `10000` → `10,000`, as the console writes counts.
func grouped(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return out
}
