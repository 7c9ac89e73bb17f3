import ArgumentParser
import Foundation
import TollgateCore

/// Where a secret comes from: an environment variable or a file, never the command line itself
/// (argv ends up in shell history and `ps`).
enum SecretSource {
    case environment(String)
    case file(String)

    /// The source chosen by `--…-env` / `--…-file`; `nil` when neither is given.
    static func from(env: String?, file: String?) throws -> SecretSource? {
        switch (env, file) {
        case (nil, nil): return nil
        case (let name?, nil): return .environment(try Parse.environmentName(name))
        case (nil, let path?):
            guard !path.isEmpty else { throw ValidationError("the secret file path must not be empty") }
            return .file(path)
        case (_?, _?): throw ValidationError("give the secret either by environment variable or by file, not both")
        }
    }

    /// Reads the secret: the variable's value, or the file's content without its trailing newline.
    func read(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Secret {
        let value: String
        switch self {
        case .environment(let name):
            guard let found = environment[name], !found.isEmpty else {
                throw CommandFailure("environment variable \(name) is not set or empty")
            }
            value = found
        case .file(let path):
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw CommandFailure("cannot read the secret file \(path)")
            }
            guard data.count <= 64 * 1024, var text = String(data: data, encoding: .utf8) else {
                throw CommandFailure("the secret file \(path) is not a UTF-8 text of at most 64 KiB")
            }
            while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
            guard !text.isEmpty else { throw CommandFailure("the secret file \(path) is empty") }
            value = text
        }
        guard !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw CommandFailure("the secret contains control characters or line breaks")
        }
        return Secret(value)
    }
}
