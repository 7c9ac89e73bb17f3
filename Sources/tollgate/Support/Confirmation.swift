import ArgumentParser
import Foundation

/// The confirmation of a destructive command: `--yes`, or an answer at a terminal.
enum Confirmation {
    /// Goes on when `yes`, or when the user answers `y` to `question` at a terminal. Without a terminal and without
    /// `--yes` it says what would happen and stops with a usage error (exit 2), changing nothing; a terminal answer
    /// other than `y` stops with exit 1.
    static func require(_ yes: Bool, _ question: String) throws {
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            Output.stderr("tollgate: \(question) Not confirmed: run again with --yes to go on.")
            throw ExitCode(TollgateCommand.usageExitCode)
        }
        FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
        guard let answer = readLine(), ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased()) else {
            Output.stderr("tollgate: cancelled; nothing changed")
            throw ExitCode.failure
        }
    }
}
