import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate wellknown SLUG`: a well-known document byte for byte as `serve` returns it.
struct WellKnownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wellknown",
        abstract: "Print a server's well-known metadata exactly as serve returns it.",
        discussion: "By default the RFC 8414 authorization-server metadata; the public URL is the one serve recorded, unless --public-url is given.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The server's slug.")
    var slug: String

    @Flag(name: .customLong("protected-resource"), help: "Print the RFC 9728 protected-resource metadata instead.")
    var protectedResource = false

    @Option(name: .customLong("public-url"), help: ArgumentHelp("The public base URL to build the document for.", valueName: "url"),
            transform: Parse.baseURL)
    var publicURL: String?

    func run() async throws {
        let document: WellKnown.Document = protectedResource ? .protectedResource : .authorizationServer
        let bytes = try await CoreSession.run(database) { tollgate in
            try await tollgate.admin.wellKnown(serverSlug: slug, document, urls: try tollgate.admin.publicURLs(override: publicURL))
        }
        Output.raw(bytes)
    }
}
