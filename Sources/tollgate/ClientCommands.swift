import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate client …`: MCP clients registered with Tollgate.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage MCP clients registered with Tollgate.",
        subcommands: [List.self, Show.self, Add.self, Revoke.self])

    /// The slug of each server by id, for showing clients and grants.
    static func serverSlugs(_ tollgate: Tollgate) async throws -> [Int64: String] {
        Dictionary(try await tollgate.admin.servers().map { ($0.id, $0.slug) }, uniquingKeysWith: { first, _ in first })
    }

    /// How the last fetch of a metadata document went, in a few words: "fetched 5m ago" or "last fetch failed: …".
    static func fetchState(_ document: MetadataDocumentState, now: Date) -> String {
        if document.lastFetchFailed, let error = document.lastError { return "last fetch failed: \(Output.singleLine(error))" }
        return document.lastFetchedAt.map { "fetched \(Output.relative($0, now: now))" } ?? "never fetched"
    }

    /// The lines `client show` adds for a metadata-document client (none for a registered one).
    static func documentFields(_ client: Client, now: Date) -> [(String, String)] {
        guard let document = client.metadataDocument else { return [] }
        var fields = [("client_id (document URL)", document.url), ("document host", document.host),
                      ("last fetched", document.lastFetchedAt.map { Output.instant($0, now: now) } ?? "never")]
        if let error = document.lastError, let at = document.lastErrorAt {
            fields.append((document.lastFetchFailed ? "last fetch failed" : "earlier fetch failed",
                           "\(Output.instant(at, now: now)): \(Output.singleLine(error))"))
        }
        return fields
    }

    /// `tollgate client list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var paging: PagingOptions

        @Option(help: ArgumentHelp("Only clients of this server.", valueName: "slug"))
        var server: String?

        func run() async throws {
            let (page, slugs, now) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.clients(serverSlug: server, limit: paging.limit, after: paging.after),
                 try ClientCommand.serverSlugs(tollgate), tollgate.clock.now())
            }
            if output.json {
                try Output.json(page.items.map { JSONView.client($0, serverSlug: slugs[$0.serverID]) })
            } else {
                Output.table(["ID", "SERVER", "NAME", "KIND", "TYPE", "REDIRECT URIS", "CREATED", "DOCUMENT", "STATUS"], page.items.map { c in
                    [c.id, slugs[c.serverID] ?? "?", c.name, c.registeredBy, c.isConfidential ? "confidential" : "public",
                     c.redirectURIs.joined(separator: " "), Output.relative(c.createdAt, now: now),
                     c.metadataDocument.map { "\($0.url) (\(ClientCommand.fetchState($0, now: now)))" } ?? "-",
                     c.revokedAt == nil ? "active" : "revoked"]
                }, empty: "no clients")
            }
            paging.announce(nextCursor: page.nextCursor)
        }
    }

    /// `tollgate client show ID`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one client.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The client id.")
        var id: String

        func run() async throws {
            let (client, slugs, now) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.client(id: id), try ClientCommand.serverSlugs(tollgate), tollgate.clock.now())
            }
            if output.json {
                try Output.json(JSONView.client(client, serverSlug: slugs[client.serverID]))
                return
            }
            Output.fields([
                ("client", client.id),
                ("server", slugs[client.serverID] ?? "?"),
                ("name", client.name),
                ("type", client.isConfidential ? "confidential" : "public"),
                ("auth method", client.authMethod.rawValue),
                ("grant types", client.grantTypes.joined(separator: " ")),
                ("registered by", client.registeredBy),
                ("created", Output.instant(client.createdAt, now: now)),
                ("revoked", client.revokedAt.map { Output.instant($0, now: now) } ?? "no"),
            ] + ClientCommand.documentFields(client, now: now) + client.redirectURIs.map { ("redirect URI", $0) })
        }
    }

    /// `tollgate client add --server SLUG --name N --redirect-uri URI … [--confidential]`
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client as an admin.",
            discussion: "A confidential client's secret is printed once, here, and never again.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: ArgumentHelp("The server's slug.", valueName: "slug"))
        var server: String

        @Option(help: "The client's display name.")
        var name: String

        @Option(name: .customLong("redirect-uri"), help: ArgumentHelp("A redirect URI (repeatable).", valueName: "uri"))
        var redirectURIs: [String] = []

        @Flag(help: "Register a confidential client (client_secret_basic) instead of a public one.")
        var confidential = false

        func validate() throws {
            guard !name.isEmpty, name.count <= 200 else { throw ValidationError("--name must be 1-200 characters") }
            guard !redirectURIs.isEmpty else { throw ValidationError("give at least one --redirect-uri") }
            guard Set(redirectURIs).count == redirectURIs.count else { throw ValidationError("a --redirect-uri is given twice") }
        }

        func run() async throws {
            let registered = try await CoreSession.run(database) { tollgate in
                _ = try await tollgate.admin.server(slug: server)
                return try await tollgate.admin.registerClient(serverSlug: server, ClientRegistration(
                    name: name, redirectURIs: redirectURIs, authMethod: confidential ? .clientSecretBasic : .none))
            }
            print("client_id: \(registered.client.id)")
            if let secret = registered.secret {
                print("client_secret: \(secret.value)")
                Output.note("tollgate: warning: the client secret is shown only this once; store it now")
            }
        }
    }

    /// `tollgate client revoke ID`
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client and all its grants.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The client id.")
        var id: String

        @Flag(help: "Go on without asking (required when not at a terminal).")
        var yes = false

        func run() async throws {
            let count = try await CoreSession.run(database) { tollgate in
                let grants = try await tollgate.admin.planBulk(.revoke, GrantScope(clientID: try await tollgate.admin.client(id: id).id), listing: 0).count
                try Confirmation.require(yes, "Revoke client \(id) and its \(grants) grant(s)?")
                return try await tollgate.admin.revokeClient(id: id)
            }
            print("client \(id) revoked; \(count) grant(s) revoked")
        }
    }
}
