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
                    try process.run()
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
