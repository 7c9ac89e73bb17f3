import ArgumentParser
import Foundation
import TollgateCore

/// A failure of a command that is not a usage error: printed as `tollgate: error: <message>`, exit 1.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = Output.singleLine(message)
    }

    var description: String { message }

    /// Maps an error to what the CLI reports: argument-parser's own errors (`ExitCode`, `CleanExit`,
    /// `ValidationError`) pass through; core errors become their one-line message (the core keeps those
    /// free of secrets); anything else becomes its description on one line.
    static func wrap(_ error: Error) -> Error {
        switch error {
        case is ExitCode, is CleanExit, is ValidationError, is CommandFailure: return error
        case let error as TollgateError: return CommandFailure(error.message)
        case let error as UpstreamError: return CommandFailure(error.description)
        default: return CommandFailure(String(describing: error))
        }
    }
}
