import ArgumentParser
import Foundation
import TollgateCore

/// `tollgate provider …`: the upstream OAuth provider of each server (exactly one per server).
struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider", abstract: "Manage the upstream OAuth provider of a server.",
        subcommands: [Add.self, Set.self, Check.self, Remove.self, List.self, Show.self])

    /// `tollgate provider add --server SLUG --kind oauth2|oidc …`
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the upstream provider of a server.",
            discussion: """
                oidc providers take their endpoints from {issuer}/.well-known/openid-configuration; explicit \
                endpoints override the discovered ones. oauth2 providers need --authorization-endpoint and \
                --token-endpoint. The client secret is read from an environment variable or a file, never \
                from the command line.
                """)

        /// Parameters Tollgate sets itself on the upstream authorization request; they cannot be overridden.
        static let reservedAuthorizeParams: Swift.Set<String> = [
            "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
        ]

        @OptionGroup var database: DatabaseOptions

        @Option(help: ArgumentHelp("The server's slug.", valueName: "slug"))
        var server: String

        @Option(help: "How the endpoints are known.")
        var kind: ProviderKind

        @Option(help: ArgumentHelp("The issuer (required for oidc).", valueName: "url"), transform: Parse.httpURL)
        var issuer: String?

        @Option(name: .customLong("authorization-endpoint"), help: ArgumentHelp(valueName: "url"), transform: Parse.httpURL)
        var authorizationEndpoint: String?

        @Option(name: .customLong("token-endpoint"), help: ArgumentHelp(valueName: "url"), transform: Parse.httpURL)
        var tokenEndpoint: String?

        @Option(name: .customLong("client-id"), help: ArgumentHelp("Tollgate's client id at the provider.", valueName: "id"))
        var clientID: String

        @OptionGroup var clientSecret: ClientSecretOptions

        @Option(name: .customLong("auth-method"),
                help: "Client authentication at the token endpoint (default: client_secret_basic with a secret, else none).")
        var authMethod: ClientAuthMethod?

        @Option(help: ArgumentHelp("Scopes requested upstream, space-separated: \"openid profile offline_access\".", valueName: "scopes"),
                transform: Parse.scopes)
        var scopes: ScopeList?

        @Option(name: .customLong("revocation-endpoint"), help: ArgumentHelp(valueName: "url"), transform: Parse.httpURL)
        var revocationEndpoint: String?

        @Option(name: .customLong("userinfo-endpoint"), help: ArgumentHelp("Where the subject is looked up when the token response has no ID token.", valueName: "url"),
                transform: Parse.httpURL)
        var userinfoEndpoint: String?

        @Option(name: .customLong("authorize-param"), help: ArgumentHelp("An extra upstream authorization parameter (repeatable). resource=URL is also sent to the token endpoint (code exchange and every refresh).", valueName: "name=value"),
                transform: Parse.keyValue)
        var authorizeParams: [AuthorizeParam] = []

        func validate() throws {
            guard !clientID.isEmpty else { throw ValidationError("--client-id must not be empty") }
            switch kind {
            case .oidc:
                guard issuer != nil else { throw ValidationError("an oidc provider needs --issuer") }
            case .oauth2:
                guard authorizationEndpoint != nil, tokenEndpoint != nil else {
                    throw ValidationError("an oauth2 provider needs --authorization-endpoint and --token-endpoint")
                }
            }
            let secret = try clientSecret.source
            if authMethod == ClientAuthMethod.none, secret != nil {
                throw ValidationError("--auth-method none takes no client secret")
            }
            if let method = authMethod, method != ClientAuthMethod.none, secret == nil {
                throw ValidationError("--auth-method \(method.rawValue) needs --client-secret-env or --client-secret-file")
            }
            var seen = Swift.Set<String>()
            for param in authorizeParams {
                if Self.reservedAuthorizeParams.contains(param.name) {
                    throw ValidationError("--authorize-param \(param.name) is set by Tollgate itself and cannot be overridden")
                }
                guard seen.insert(param.name).inserted else { throw ValidationError("--authorize-param \(param.name) is given twice") }
            }
        }

        func run() async throws {
            let secret = try clientSecret.source?.read()
            let new = NewProvider(
                kind: kind, issuer: issuer, authorizationEndpoint: authorizationEndpoint, tokenEndpoint: tokenEndpoint,
                revocationEndpoint: revocationEndpoint, userinfoEndpoint: userinfoEndpoint, clientID: clientID,
                clientSecret: secret, authMethod: authMethod ?? (secret == nil ? .none : .clientSecretBasic),
                scopes: scopes?.items ?? [], authorizeParams: authorizeParams)
            let provider = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.addProvider(serverSlug: server, new)
            }
            print("provider added to '\(server)': \(provider.kind.rawValue), token endpoint \(provider.tokenEndpoint), " +
                  "refresh \(provider.supportsRefresh ? "supported" : "not supported")")
        }
    }

    /// `tollgate provider set --server SLUG [--client-id ID] [--client-secret-env VAR | --client-secret-file PATH] [--scopes S]`
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the provider of a server in place: client id, client secret (rotation), scopes.",
            discussion: """
                Every grant is kept: grants belong to the provider, not to its secret, so rotating the secret (an Entra \
                secret expires after at most two years) logs nobody out. Running serve processes use the new secret \
                from their next upstream call. The change is audited as provider.update, never with the secret.
                """)

        @OptionGroup var database: DatabaseOptions

        @Option(help: ArgumentHelp("The server's slug.", valueName: "slug"))
        var server: String

        @Option(name: .customLong("client-id"), help: ArgumentHelp("Tollgate's new client id at the provider.", valueName: "id"))
        var clientID: String?

        @OptionGroup var clientSecret: ClientSecretOptions

        @Option(help: ArgumentHelp("The scopes requested upstream, space-separated (replaces them).", valueName: "scopes"), transform: Parse.scopes)
        var scopes: ScopeList?

        func run() async throws {
            let secret = try clientSecret.source?.read()
            let provider = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.setProvider(serverSlug: server, clientID: clientID, clientSecret: secret, scopes: scopes?.items)
            }
            print("provider of '\(server)' updated: client id \(provider.clientID), client secret \(secret == nil ? "unchanged" : "rotated"), "
                  + "scopes \(provider.scopes.isEmpty ? "none" : provider.scopes.joined(separator: " ")); every grant kept")
        }
    }

    /// `tollgate provider check SLUG`
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove a provider's stored configuration without a user: discovery, token endpoint, client credentials.",
            discussion: """
                Sends the token endpoint a refresh with a refresh token that does not exist: refused as invalid_grant, the \
                client authenticated; as invalid_client (or similar), the stored credentials are wrong. One line per \
                finding; exit 0 when all are fine, 1 otherwise.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The server's slug.")
        var slug: String

        func run() async throws {
            let check = try await CoreSession.run(database) { tollgate in try await tollgate.admin.checkProvider(serverSlug: slug) }
            if output.json {
                try Output.json(CheckView(ok: check.ok, findings: check.findings.map { .init(subject: $0.subject, ok: $0.ok, detail: $0.detail) }))
            } else {
                for finding in check.findings {
                    print("\(finding.ok ? "ok  " : "FAIL") \(finding.subject): \(Output.singleLine(finding.detail))")
                }
            }
            if !check.ok { throw ExitCode.failure }
        }
    }

    /// `tollgate provider remove SLUG [--revoke-grants --yes]`
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the provider of a server (the server stays; add another provider afterwards).",
            discussion: """
                Refused while the server has grants that are not revoked: they could no longer be refreshed. \
                --revoke-grants --yes revokes them first, each as grant revoke does.
                """)

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The server's slug.")
        var slug: String

        @Flag(name: .customLong("revoke-grants"), help: "Revoke the server's grants with the provider.")
        var revokeGrants = false

        @Flag(help: "Confirm --revoke-grants.")
        var yes = false

        func validate() throws {
            if revokeGrants && !yes { throw ValidationError("--revoke-grants revokes every grant of the server: confirm with --yes") }
        }

        func run() async throws {
            let revoked = try await CoreSession.run(database) { tollgate in
                try await tollgate.admin.removeProvider(serverSlug: slug, revokeGrants: revokeGrants)
            }
            print("provider of '\(slug)' removed; \(revoked) grant(s) revoked")
        }
    }

    /// `provider check --json`: whether all is fine, and each finding.
    struct CheckView: Encodable {
        struct Finding: Encodable { var subject: String; var ok: Bool; var detail: String }
        var ok: Bool
        var findings: [Finding]
    }

    /// `tollgate provider list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List providers.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let providers = try await CoreSession.run(database) { tollgate in try await tollgate.admin.providers() }
            if output.json {
                try Output.json(providers.map { JSONView.provider($0.provider, serverSlug: $0.server.slug) })
                return
            }
            Output.table(["SERVER", "KIND", "CLIENT ID", "AUTH METHOD", "SECRET", "REFRESH", "TOKEN ENDPOINT", "LAST ERROR"],
                         providers.map { server, p in
                [server.slug, p.kind.rawValue, p.clientID, p.authMethod.rawValue, p.hasClientSecret ? "set" : "none",
                 Output.yesNo(p.supportsRefresh), p.tokenEndpoint, p.lastError ?? "-"]
            }, empty: "no providers")
        }
    }

    /// `tollgate provider show SLUG`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the provider of a server (never its secret).")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The server's slug.")
        var slug: String

        func run() async throws {
            let (provider, now) = try await CoreSession.run(database) { tollgate in
                await (try tollgate.admin.provider(serverSlug: slug), tollgate.clock.now())
            }
            if output.json {
                try Output.json(JSONView.provider(provider, serverSlug: slug))
                return
            }
            Output.fields([
                ("server", slug),
                ("kind", provider.kind.rawValue),
                ("issuer", provider.issuer ?? "none"),
                ("authorization endpoint", provider.authorizationEndpoint),
                ("token endpoint", provider.tokenEndpoint),
                ("revocation endpoint", provider.revocationEndpoint ?? "none"),
                ("userinfo endpoint", provider.userinfoEndpoint ?? "none"),
                ("client id", provider.clientID),
                ("client secret", provider.hasClientSecret ? "set" : "none"),
                ("auth method", provider.authMethod.rawValue),
                ("scopes", provider.scopes.isEmpty ? "none" : provider.scopes.joined(separator: " ")),
                ("authorize params", provider.authorizeParams.isEmpty ? "none"
                    : provider.authorizeParams.map { "\($0.name)=\($0.value)" }.joined(separator: " ")),
                ("supports refresh", Output.yesNo(provider.supportsRefresh)),
                ("offline_access", provider.supportsOfflineAccess ? "requested upstream" : "not requested"),
                ("last error", provider.lastError.map { "\($0) (\(Output.relative(provider.lastErrorAt, now: now)))" } ?? "none"),
                ("created", Output.instant(provider.createdAt, now: now)),
            ])
        }
    }
}

/// `--client-secret-env VAR` or `--client-secret-file PATH`: where a provider's client secret is read from, never the
/// command line (`provider add`, `provider set`).
struct ClientSecretOptions: ParsableArguments {
    @Option(name: .customLong("client-secret-env"), help: ArgumentHelp("Read the client secret from this environment variable.", valueName: "var"))
    var env: String?

    @Option(name: .customLong("client-secret-file"), help: ArgumentHelp("Read the client secret from this file (trailing newline removed).", valueName: "path"))
    var file: String?

    /// Where the secret comes from; `nil` when neither option was given.
    var source: SecretSource? { get throws { try SecretSource.from(env: env, file: file) } }

    func validate() throws { _ = try source }
}
