import Foundation

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
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: binary)
                    process.arguments = arguments
                    var env = ProcessInfo.processInfo.environment
                    env.removeValue(forKey: "TOLLGATE_MASTER_KEY")
                    for (k, v) in environment { env[k] = v }
                    process.environment = env
                    let out = Pipe(), err = Pipe(), input = Pipe()
                    process.standardOutput = out
                    process.standardError = err
                    process.standardInput = input
                    try ProcessSpawning.run(process)
                    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
                    try? input.fileHandleForWriting.close()
                    let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
                    let outData = out.fileHandleForReading.readDataToEndOfFile()
                    let errData = err.fileHandleForReading.readDataToEndOfFile()
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
    public let process: Process
    /// The URL at the end of the first line the command printed (`… listening on http://127.0.0.1:PORT`).
    public let url: String

    /// Starts `binary` with `arguments` (without `TOLLGATE_MASTER_KEY`: the key file next to the database is
    /// used) and waits for its first line. `openFileSoftLimit` starts it under a lower open-file soft limit.
    public init(_ binary: String, _ arguments: [String], openFileSoftLimit: Int? = nil) throws {
        process = Process()
        if let openFileSoftLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", #"ulimit -Sn \#(openFileSoftLimit) && exec "$0" "$@""#, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TOLLGATE_MASTER_KEY")
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try ProcessSpawning.run(process)
        var line = ""
        while !line.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += String(decoding: chunk, as: UTF8.self)
        }
        // The chunk read may hold more than the first line.
        let first = line.split(separator: "\n", maxSplits: 1).first ?? ""
        url = first.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }

    /// The port of ``url``.
    public var port: Int? { url.split(separator: ":").last.flatMap { Int($0) } }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
