import Foundation

/// A tmux server of its own (a private socket) running a shell, for driving the built `tollgate` binary
/// like a person at a terminal. ``kill()`` ends the server and everything in it.
final class Tmux: @unchecked Sendable {
    let socket = "tollgate-e2e-" + UUID().uuidString.prefix(8)
    /// The shell's prompt (PS1 adds a space, which tmux trims from captures).
    static let prompt = "e2e-ready>"

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(columns: Int = 120, rows: Int = 40) throws {
        try run(["-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", String(columns), "-y", String(rows),
                 "env", "-u", "TOLLGATE_MASTER_KEY", "PS1=\(Self.prompt) ", "LANG=C.UTF-8", "TERM=screen-256color",
                 // If the test process dies before `kill()`, the shell ends after five minutes and the server with it.
                 "timeout", "--foreground", "300", "sh"])
    }

    /// Runs a tmux command on this server; returns its output.
    ///
    /// Spawned with `posix_spawn` and an empty signal mask: test threads block most signals, and a tmux server
    /// (with the shell and the console under it) would inherit that mask and never see SIGINT, SIGTERM or
    /// SIGCHLD. Output goes to a file, not a pipe: the server `new-session` starts would hold a pipe open.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let file = NSTemporaryDirectory() + "tmux-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: file) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["tmux", "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, "tmux", &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot run tmux: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        guard status == 0 else { throw Failure(description: "tmux \(arguments.joined(separator: " ")): \(text)") }
        return text
    }

    /// Types a command line into the shell and presses Enter.
    func shell(_ line: String) throws {
        try run(["send-keys", "-t", "main", "-l", line])
        try run(["send-keys", "-t", "main", "Enter"])
    }

    // Waiting is `Task.sleep`, never `Thread.sleep`: the dev upstream answering the console runs in this
    // process's cooperative thread pool, which a blocked test thread would starve.

    /// Sends tmux key names (`j`, `Enter`, `Escape`, `C-c`, `PageDown`, …), one at a time.
    func keys(_ names: String...) async throws {
        for name in names {
            try run(["send-keys", "-t", "main", name])
            try await Task.sleep(for: .milliseconds(80))
        }
    }

    /// Types text literally.
    func type(_ text: String) async throws {
        try run(["send-keys", "-t", "main", "-l", text])
        try await Task.sleep(for: .milliseconds(100))
    }

    /// The visible screen.
    func capture() throws -> String {
        try run(["capture-pane", "-p", "-t", "main"])
    }

    /// Waits until the screen shows `text` (and passes `also`); returns that screen.
    @discardableResult
    func waitFor(_ text: String, timeout: TimeInterval = 10, _ also: (String) -> Bool = { _ in true }) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var screen = ""
        while Date() < deadline {
            screen = try capture()
            if screen.contains(text) && also(screen) { return screen }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "'\(text)' did not appear within \(timeout) s; the screen:\n\(screen)")
    }

    /// Whether the pane is in the alternate screen (curses is running).
    func alternateScreen() throws -> Bool {
        try run(["display-message", "-p", "-t", "main", "#{alternate_on}"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    func resize(columns: Int, rows: Int) throws {
        try run(["resize-window", "-t", "main", "-x", String(columns), "-y", String(rows)])
    }

    /// The process the shell is running (the console), if any: the deepest descendant of the pane's process.
    func foregroundPID() throws -> pid_t? {
        var pid = try run(["display-message", "-p", "-t", "main", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        var depth = 0
        while let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8),
              let child = children.split(separator: " ").first {
            pid = String(child)
            depth += 1
        }
        return depth >= 2 ? pid_t(pid) : nil
    }

    /// Ends the tmux server and everything it runs, and removes its socket.
    func kill() {
        _ = try? run(["kill-server"])
        let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
        try? FileManager.default.removeItem(atPath: "\(directory)/tmux-\(getuid())/\(socket)")
    }
}
