import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for tests.
///
/// Not Foundation's `Process`: on Linux its `run()` reads past the end of a `readdir` buffer while it lists
/// `/proc/self/fd` (swift-corelibs-foundation PR #5472, present in Swift 6.3.1), which crashed the test process
/// now and then once many tests had descriptors open.
public final class ChildProcess: @unchecked Sendable {
    /// What becomes of one of the child's standard streams.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A pipe whose other end the test holds (``standardInput``, ``standardOutput``, ``standardError``).
        case pipe
        /// The test process's own descriptor, inherited.
        case inherit
    }

    public let processIdentifier: Int32
    /// The write end of the child's standard input, when it is ``Stream/pipe``.
    public let standardInput: FileHandle?
    /// The read end of the child's standard output, when it is ``Stream/pipe``.
    public let standardOutput: FileHandle?
    /// The read end of the child's standard error, when it is ``Stream/pipe``.
    public let standardError: FileHandle?

    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` (a path, or a name looked up in `PATH`) with `arguments`. `environment` replaces the
    /// test process's environment when given; `directory` is the child's working directory.
    public convenience init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                            stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null) throws {
        if let directory {
            try self.init("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, directory, executable] + arguments, environment: environment,
                          stdin: stdin, stdout: stdout, stderr: stderr)
        } else {
            try self.init(executable, arguments, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr)
        }
    }

    /// Pipes are made and children spawned one at a time: a pipe end another thread's child inherited before it was
    /// marked close-on-exec would keep that pipe open (and its reader waiting) as long as that child lives.
    private static let spawnLock = NSLock()

    private init(_ executable: String, _ arguments: [String], environment: [String: String]?,
                 stdin: Stream, stdout: Stream, stderr: Stream) throws {
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = []
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .inherit:
                break
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw Self.failure("pipe") }
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                let (childEnd, parentEnd) = fd == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                posix_spawn_file_actions_adddup2(&actions, childEnd, fd)
                parentEnds[Int(fd)] = parentEnd
                childEnds.append(childEnd)
            }
        }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let spawned = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, nil, argv, envp)
            : posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        for fd in childEnds { close(fd) }
        guard spawned == 0 else {
            for case let fd? in parentEnds { close(fd) }
            throw Self.failure("posix_spawn \(executable)", code: spawned)
        }
        processIdentifier = pid
        standardInput = parentEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        standardOutput = parentEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        standardError = parentEnds[2].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool { reap() == nil }

    /// Waits for the child to exit.
    public func waitUntilExit() { _ = waitForExit() }

    /// The exit code, or 128 + the signal that ended it; waits for the exit.
    public var terminationStatus: Int32 { waitForExit() }

    /// Polls (never holding the lock while waiting, so ``terminate()`` works meanwhile).
    private func waitForExit() -> Int32 {
        while true {
            if let status = reap() { return status }
            usleep(5_000)
        }
    }

    /// Sends SIGTERM.
    public func terminate() { send(SIGTERM) }

    /// Sends `signal` unless the child has been reaped.
    public func send(_ signal: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus == nil { kill(processIdentifier, signal) }
    }

    private func reap() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while true {
            let result = waitpid(processIdentifier, &status, WNOHANG)
            if result == -1 && errno == EINTR { continue }
            guard result == processIdentifier else { return nil }
            break
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }

    private static func failure(_ what: String, code: Int32 = errno) -> NSError {
        NSError(domain: "ChildProcess", code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(code)))"])
    }

    deinit {
        if reap() == nil {
            kill(processIdentifier, SIGTERM)
            _ = waitForExit()
        }
    }
}
