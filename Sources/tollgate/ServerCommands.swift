import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate server …`: the protected MCP servers.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Manage protected MCP servers.",
        subcommands: [Add.self, List.self, Show.self, Set.self, Remove.self, Introspection.self])

    /// `tollgate server add SLUG --upstream-mcp URL …`
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a protected MCP server.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "URL-safe short name used in every path: 1-63 of a-z, 0-9 and '-'.")
        var slug: String

        @Option(name: .customLong("upstream-mcp"), help: ArgumentHelp("Where the gateway forwards MCP requests.", valueName: "url"),
                transform: Parse.httpURL)
        var upstreamMCP: String

        @Option(help: "Display name (default: the slug).")
        var name: String?

        @Option(name: .customLong("access-ttl"), help: ArgumentHelp("Proxy access-token lifetime: seconds or 30s/15m/2h/7d (default 1h).", valueName: "duration"),
                transform: Parse.duration)
        var accessTTL: DurationArgument?

        @Option(name: .customLong("refresh-ttl"), help: ArgumentHelp("Proxy refresh-token idle lifetime (default 30d).", valueName: "duration"),
                transform: Parse.duration)
        var refreshTTL: DurationArgument?

        @Option(help: ArgumentHelp("Scopes advertised for the server, space-separated: \"a b\".", valueName: "scopes"),
                transform: Parse.scopes)
        var scopes: ScopeList?

        @OptionGroup var origins: AllowedOriginOptions

        @OptionGroup var scopeRules: ScopeRuleOptions
        @OptionGroup var clientMetadata: ClientMetadataTrustOptions

        func validate() throws {
            guard Server.isValidSlug(slug) else {
                throw ValidationError("slug '\(Output.singleLine(slug))' is invalid: use 1-63 of a-z, 0-9 and '-', not starting with '-'")
            }
            if let name, name.isEmpty || name.count > 200 { throw ValidationError("--name must be 1-200 characters") }
            if scopes?.items.contains("offline_access") == true {
                throw ValidationError("offline_access is not a server scope: Tollgate adds it to its own metadata")
            }
            if let refreshTTL, Double(refreshTTL.seconds) > Server.defaultRefreshAbsoluteTTL {
                throw ValidationError("--refresh-ttl may be at most \(Int(Server.defaultRefreshAbsoluteTTL) / 86_400)d (the absolute refresh lifetime)")
            }
        }

        func run() async throws {
            let server = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.addServer(NewServer(
                    slug: slug, name: name, upstreamMCPURL: upstreamMCP, scopes: scopes?.items ?? [],
                    accessTokenTTL: accessTTL.map { TimeInterval($0.seconds) } ?? Server.defaultAccessTTL,
                    refreshTokenIdleTTL: refreshTTL.map { TimeInterval($0.seconds) } ?? Server.defaultRefreshIdleTTL,
                    policy: ServerPolicy(allowedOrigins: origins.allowedOrigins, scopeRules: try scopeRules.applied(to: ScopeRules()),
                                         clientMetadata: clientMetadata.trust ?? .anyHTTPS,
                                         blockedClientMetadataHosts: clientMetadata.blocked(after: []))))
            }
            print("server '\(server.slug)' added (id \(server.id)); next: tollgate provider add --server \(server.slug) …")
        }
    }

    /// `tollgate server list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List servers.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (servers, providers) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.servers(), try tollgate.admin.providers())
            }
            let providerOf = Dictionary(providers.map { ($0.server.id, $0.provider) }, uniquingKeysWith: { first, _ in first })
            if output.json {
                try Output.json(servers.map { JSONView.server($0, provider: providerOf[$0.id]) })
                return
            }
            Output.table(["SLUG", "NAME", "UPSTREAM MCP", "PROVIDER", "ACCESS TTL", "REFRESH TTL", "SCOPES"], servers.map { s in
                [s.slug, s.name, s.upstreamMCPURL, providerOf[s.id]?.kind.rawValue ?? "none",
                 Output.span(s.accessTokenTTL), Output.span(s.refreshTokenIdleTTL), s.scopes.joined(separator: " ")]
            }, empty: "no servers")
        }
    }

    /// `tollgate server show SLUG`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one server.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The server's slug.")
        var slug: String

        func run() async throws {
            let (server, provider, urls, now) = try await CoreSession.run(database) { tollgate in
                let server = try await tollgate.admin.server(slug: slug)
                let provider = try await tollgate.admin.providers().first { $0.server.id == server.id }?.provider
                return await (server, provider, try tollgate.admin.publicURLs(), tollgate.clock.now())
            }
            if output.json {
                try Output.json(JSONView.server(server, provider: provider))
                return
            }
            Output.fields([
                ("server", server.slug),
                ("id", String(server.id)),
                ("name", server.name),
                ("upstream MCP URL", server.upstreamMCPURL),
                ("scopes", server.scopes.isEmpty ? "none" : server.scopes.joined(separator: " ")),
                ("allowed origins", AllowedOriginOptions.describe(server.policy, urls: urls)),
                ("scope rules", server.policy.scopeRules.summary),
                ("client metadata documents", server.policy.clientMetadataSummary),
                ("access token TTL", Output.span(server.accessTokenTTL)),
                ("refresh token TTL", "\(Output.span(server.refreshTokenIdleTTL)) idle, \(Output.span(server.refreshTokenAbsoluteTTL)) absolute"),
                ("provider", provider.map { "\($0.kind.rawValue), client \($0.clientID)" } ?? "none (add one with tollgate provider add)"),
                ("resource", urls.resource(server.slug)),
                ("issuer", urls.issuer(server.slug)),
                ("created", Output.instant(server.createdAt, now: now)),
            ])
        }
    }

    /// `tollgate server set SLUG [--allowed-origin URL … | --default-origins] [scope rules] [--client-metadata MODE] [--client-metadata-allow P …]`
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a server's rules: which browser origins may call its gateway, which scopes its calls need, which client ID metadata documents it accepts.",
            discussion: """
                The gateway refuses (403) a request whose Origin header names an origin that is not allowed; requests \
                without Origin (native MCP clients) are not affected. By default only the origin of Tollgate's public URL \
                is allowed. --allowed-origin replaces the list; --default-origins goes back to the default.

                --tool-scope, --method-scope and --scope-implies add or replace the rule of the tool, method or scope \
                they name (an empty right-hand side removes it); the other rules stay. --clear-scope-rules removes every \
                rule first. A call whose grant lacks a needed scope gets 403 insufficient_scope (step-up authorization).

                --client-metadata and --client-metadata-allow replace the trust policy for client ID metadata documents. \
                --client-metadata-block adds a host whose documents are refused whatever the policy (revoking a metadata \
                document client refuses only its exact URL); --client-metadata-unblock removes one. Rules not named stay as they are.
                """)

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The server's slug.")
        var slug: String

        @OptionGroup var origins: AllowedOriginOptions

        @Flag(name: .customLong("default-origins"), help: "Allow only the origin of Tollgate's public URL again.")
        var defaultOrigins = false

        @OptionGroup var scopeRules: ScopeRuleOptions
        @OptionGroup var clientMetadata: ClientMetadataTrustOptions

        func validate() throws {
            if !origins.allowedOrigins.isEmpty && defaultOrigins {
                throw ValidationError("give --allowed-origin (one or more) or --default-origins, not both")
            }
            if origins.allowedOrigins.isEmpty && !defaultOrigins && !scopeRules.changesAnything && clientMetadata.trust == nil
                && clientMetadata.blockHosts.isEmpty && clientMetadata.unblockHosts.isEmpty {
                throw ValidationError("nothing to change: give --allowed-origin, --default-origins, a scope rule option, --client-metadata, "
                                      + "--client-metadata-allow, --client-metadata-block or --client-metadata-unblock")
            }
        }

        func run() async throws {
            let changesOrigins = defaultOrigins || !origins.allowedOrigins.isEmpty
            let (server, urls) = try await CoreSession.run(database) { tollgate in
                var policy = try await tollgate.admin.server(slug: slug).policy
                if changesOrigins { policy.allowedOrigins = origins.allowedOrigins }
                policy.scopeRules = try scopeRules.applied(to: policy.scopeRules)
                if let trust = clientMetadata.trust { policy.clientMetadata = trust }
                policy.blockedClientMetadataHosts = clientMetadata.blocked(after: policy.blockedClientMetadataHosts)
                let server = try await tollgate.admin.setServerPolicy(slug: slug, policy)
                return (server, try await tollgate.admin.publicURLs())
            }
            print("server '\(server.slug)': allowed origins \(AllowedOriginOptions.describe(server.policy, urls: urls)); "
                  + "scope rules \(server.policy.scopeRules.summary); client metadata documents \(server.policy.clientMetadataSummary)")
        }
    }

    /// `tollgate server remove SLUG`
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a server with its provider, clients and grants.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The server's slug.")
        var slug: String

        @Flag(help: "Go on without asking (required when not at a terminal).")
        var yes = false

        func run() async throws {
            let removed = try await CoreSession.run(database) { tollgate in
                let grants = try await tollgate.admin.planBulk(.revoke, GrantScope(serverSlug: slug), listing: 0).count
                try Confirmation.require(yes, "Remove server '\(slug)' with its provider, clients and \(grants) live grant(s)?")
                return try await tollgate.admin.removeServer(slug: slug)
            }
            print("server '\(slug)' removed with \(removed) grant(s)")
        }
    }
}

/// `--allowed-origin URL` (repeatable): the browser origins a server's gateway admits.
struct AllowedOriginOptions: ParsableArguments {
    @Option(name: .customLong("allowed-origin"),
            help: ArgumentHelp("A browser origin (scheme://host[:port]) whose pages may call the gateway; repeat for more (default: the public URL's origin only).",
                               valueName: "origin"))
    var allowedOrigins: [String] = []

    func validate() throws {
        for origin in allowedOrigins where WebOrigin(origin) == nil {
            throw ValidationError("--allowed-origin '\(Output.singleLine(origin))' is not an origin: give scheme://host[:port] (http or https, no path)")
        }
    }

    /// The allowed origins of `policy` as the CLI prints them.
    static func describe(_ policy: ServerPolicy, urls: PublicURLs) -> String {
        if !policy.allowedOrigins.isEmpty { return policy.allowedOrigins.joined(separator: " ") }
        return (urls.origin?.description ?? urls.base) + " (the public URL's, by default)"
    }
}

/// `--tool-scope TOOL=SCOPES`, `--method-scope METHOD=SCOPES`, `--scope-implies SCOPE=SCOPES` (each repeatable;
/// SCOPES comma-separated) and `--clear-scope-rules`: the scopes a server's MCP calls need, and its hierarchy.
struct ScopeRuleOptions: ParsableArguments {
    @Option(name: .customLong("tool-scope"),
            help: ArgumentHelp("A tool and the scopes a tools/call of it needs: write_file=files.write (comma-separated; repeatable).",
                               valueName: "tool=scopes"))
    var toolScopes: [String] = []

    @Option(name: .customLong("method-scope"),
            help: ArgumentHelp("An MCP method and the scopes every call of it needs: resources/read=files.read (repeatable).",
                               valueName: "method=scopes"))
    var methodScopes: [String] = []

    @Option(name: .customLong("scope-implies"),
            help: ArgumentHelp("A scope and the scopes it implies: files.write=files.read (transitive; repeatable).",
                               valueName: "scope=scopes"))
    var implies: [String] = []

    @Flag(name: .customLong("clear-scope-rules"), help: "Remove every tool scope, method scope and implication first (server set).")
    var clear = false

    var changesAnything: Bool { clear || !toolScopes.isEmpty || !methodScopes.isEmpty || !implies.isEmpty }

    func validate() throws {
        for (flag, entries) in [("--tool-scope", toolScopes), ("--method-scope", methodScopes), ("--scope-implies", implies)] {
            for entry in entries { _ = try Self.parse(entry, flag: flag) }
        }
    }

    /// `rules` (emptied first with `--clear-scope-rules`) with each given entry set; an entry with no scopes
    /// removes its key. Whether the scopes are the server's is checked by the core.
    func applied(to rules: ScopeRules) throws -> ScopeRules {
        var rules = clear ? ScopeRules() : rules
        func apply(_ entries: [String], _ flag: String, _ map: inout [String: [String]]) throws {
            for entry in entries {
                let (key, scopes) = try Self.parse(entry, flag: flag)
                map[key] = scopes.isEmpty ? nil : scopes
            }
        }
        try apply(toolScopes, "--tool-scope", &rules.toolScopes)
        try apply(methodScopes, "--method-scope", &rules.methodScopes)
        try apply(implies, "--scope-implies", &rules.implies)
        return rules
    }

    /// `key=a,b` → (`key`, [`a`, `b`]).
    static func parse(_ entry: String, flag: String) throws -> (String, [String]) {
        guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
            throw ValidationError("\(flag) '\(Output.singleLine(entry))' must look like name=scope[,scope…]")
        }
        let key = String(entry[..<equals])
        let scopes = entry[entry.index(after: equals)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (key, scopes)
    }
}

/// `--client-metadata any|allowlist|off` and `--client-metadata-allow PATTERN` (repeatable): which client ID metadata
/// documents a server accepts as clients.
struct ClientMetadataTrustOptions: ParsableArguments {
    @Option(name: .customLong("client-metadata"),
            help: ArgumentHelp("Client ID metadata documents accepted as clients: any (any valid https document, the default), allowlist (only --client-metadata-allow patterns) or off.",
                               valueName: "any|allowlist|off"))
    var mode: String?

    @Option(name: .customLong("client-metadata-allow"),
            help: ArgumentHelp("An allowlist pattern (implies --client-metadata allowlist; repeatable): an exact document URL, an https://host/prefix/ ending in /, or https://*.example.com/ for any subdomain.",
                               valueName: "pattern"))
    var patterns: [String] = []

    @Option(name: .customLong("client-metadata-block"),
            help: ArgumentHelp("Refuse client ID metadata documents from this host whatever the policy (repeatable; *.example.com for its subdomains).",
                               valueName: "host"))
    var blockHosts: [String] = []

    @Option(name: .customLong("client-metadata-unblock"), help: ArgumentHelp("Remove a host from the blocked ones (repeatable).", valueName: "host"))
    var unblockHosts: [String] = []

    /// A host as blocked: lowercase, without a trailing dot.
    static func normalizedHost(_ host: String) -> String {
        var host = host.trimmingCharacters(in: .whitespaces).lowercased()
        while host.hasSuffix(".") { host.removeLast() }
        return host
    }

    /// The blocked hosts after these options: `current` plus `--client-metadata-block`, less `--client-metadata-unblock`.
    func blocked(after current: [String]) -> [String] {
        var hosts = current
        for host in blockHosts.map(Self.normalizedHost) where !hosts.contains(host) { hosts.append(host) }
        let removed = Swift.Set(unblockHosts.map(Self.normalizedHost))
        return hosts.filter { !removed.contains($0) }
    }

    func validate() throws {
        for host in blockHosts.map(Self.normalizedHost) {
            let bare = host.hasPrefix("*.") ? String(host.dropFirst(2)) : host
            guard !bare.isEmpty, bare.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "[" || $0 == "]" }) else {
                throw ValidationError("--client-metadata-block '\(Output.singleLine(host))' is not a host name")
            }
        }
        for pattern in patterns {
            do { _ = try ClientMetadataURLPattern(pattern) } catch { throw ValidationError("--client-metadata-allow \(error.reason)") }
        }
        switch mode {
        case nil, "allowlist"?:
            if mode != nil, patterns.isEmpty { throw ValidationError("--client-metadata allowlist needs at least one --client-metadata-allow pattern") }
        case "any"?, "off"?:
            if !patterns.isEmpty { throw ValidationError("--client-metadata-allow goes with --client-metadata allowlist, not \(mode ?? "")") }
        case let other?:
            throw ValidationError("--client-metadata '\(Output.singleLine(other))' is not one of any, allowlist, off")
        }
    }

    /// The trust policy these options set; `nil` when neither was given.
    var trust: ClientMetadataTrust? {
        switch mode {
        case "any"?: return .anyHTTPS
        case "off"?: return .off
        default:
            let parsed = patterns.compactMap { try? ClientMetadataURLPattern($0) }
            return parsed.isEmpty ? nil : .allowlist(parsed)
        }
    }
}
