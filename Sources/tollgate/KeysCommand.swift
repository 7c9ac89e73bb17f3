import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate keys …`: the data keys that seal upstream tokens and provider secrets.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage encryption keys.", subcommands: [Rotate.self])

    /// `tollgate keys rotate`
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new data key and re-seal every secret with it; nobody is logged out.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let result = try await CoreSession.run(database) { tollgate in try await tollgate.admin.rotateKeys() }
            print("new key id: \(result.keyID); \(result.resealed) value(s) re-sealed")
        }
    }
}
