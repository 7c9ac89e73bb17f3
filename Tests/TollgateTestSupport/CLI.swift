import Foundation
import Synchronization

/// Runs the built `tollgate` binary.
public enum CLI {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `tollgate` executable next to the test bundle (`swift build` puts both in the same folder).
    public static func binary() throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? Bundle.main.bundlePath)
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("tollgate").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/tollgate"
        if FileManager.default.isExecutableFile(atPath: fallback) { return fallback }
        throw CLIError(message: "the tollgate binary was not found; run `swift build` before `swift test`")
    }

    public struct CLIError: Error, CustomStringConvertible { public var message: String; public var description: String { message } }

    /// Runs the binary with `arguments`, the given extra environment, and optional stdin; waits for it.
    public static func run(_ binary: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
                    timeout: TimeInterval = 60) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    var env = ProcessInfo.processInfo.environment
                    env.removeValue(forKey: "TOLLGATE_MASTER_KEY")
                    for (k, v) in environment { env[k] = v }
                    let process = try ChildProcess(binary, arguments, environment: env, stdin: .pipe, stdout: .pipe, stderr: .pipe)
                    if let stdin { process.standardInput?.write(Data(stdin.utf8)) }
                    try? process.standardInput?.close()
                    let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
                    // Both pipes at once, so that a child filling one while the other is read never blocks.
                    let group = DispatchGroup()
                    nonisolated(unsafe) var errData = Data()
                    DispatchQueue.global().async(group: group) { errData = process.standardError?.readDataToEndOfFile() ?? Data() }
                    let outData = process.standardOutput?.readDataToEndOfFile() ?? Data()
                    group.wait()
                    process.waitUntilExit()
                    timer.cancel()
                    continuation.resume(returning: Result(status: process.terminationStatus,
                                                          stdout: String(decoding: outData, as: UTF8.self),
                                                          stderr: String(decoding: errData, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

/// A long-running `tollgate` command (`serve`, `dev-upstream`) started in the background; stopped with
/// SIGTERM by ``stop()``, or when released.
public final class BackgroundCommand: @unchecked Sendable {
    public let process: ChildProcess
    /// The URL at the end of the first line the command printed (`… listening on http://127.0.0.1:PORT`).
    public let url: String

    /// Everything the command wrote to stderr so far, when started with `captureStandardError`.
    private let standardErrorText = TextBuffer()
    /// Left once stderr reached its end (the command exited).
    private let standardErrorRead = DispatchGroup()

    /// Starts `binary` with `arguments` (without `TOLLGATE_MASTER_KEY`: the key file next to the database is
    /// used) and waits for its first line. `openFileSoftLimit` starts it under a lower open-file soft limit;
    /// `captureStandardError` keeps its stderr for ``standardError(containing:within:)`` and ``standardErrorAtExit()``
    /// (else it goes to /dev/null).
    public init(_ binary: String, _ arguments: [String], openFileSoftLimit: Int? = nil, captureStandardError: Bool = false) throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TOLLGATE_MASTER_KEY")
        let stderr: ChildProcess.Stream = captureStandardError ? .pipe : .null
        if let openFileSoftLimit {
            process = try ChildProcess("/bin/sh", ["-c", #"ulimit -Sn \#(openFileSoftLimit) && exec "$0" "$@""#, binary] + arguments,
                                       environment: env, stdout: .pipe, stderr: stderr)
        } else {
            process = try ChildProcess(binary, arguments, environment: env, stdout: .pipe, stderr: stderr)
        }
        if let handle = process.standardError {
            standardErrorRead.enter()
            DispatchQueue.global().async { [standardErrorText, standardErrorRead] in
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    standardErrorText.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
                }
                standardErrorRead.leave()
            }
        }
        var line = ""
        while !line.contains("\n") {
            guard let chunk = process.standardOutput?.availableData, !chunk.isEmpty else { break }
            line += String(decoding: chunk, as: UTF8.self)
        }
        // The chunk read may hold more than the first line.
        let first = line.split(separator: "\n", maxSplits: 1).first ?? ""
        url = first.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }

    /// The port of ``url``.
    public var port: Int? { url.split(separator: ":").last.flatMap { Int($0) } }

    /// Whether a line of stderr containing `text` arrives within `seconds` (needs `captureStandardError`).
    public func standardError(containing text: String, within seconds: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if standardErrorText.text.withLock({ $0.contains(text) }) { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return standardErrorText.text.withLock { $0.contains(text) }
    }

    /// All the command wrote to stderr, once it has exited (needs `captureStandardError`; waits for the exit).
    public func standardErrorAtExit() -> String {
        process.waitUntilExit()
        standardErrorRead.wait()
        return standardErrorText.text.withLock { $0 }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        return process.terminationStatus
    }
}

/// Text one thread appends to while others read it.
private final class TextBuffer: Sendable {
    let text = Mutex("")
}
