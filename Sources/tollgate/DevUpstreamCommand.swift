import ArgumentParser
import Foundation
import TollgateCore
import TollgateDevUpstream

/// `tollgate dev-upstream`: a development OAuth/OIDC provider for trying Tollgate locally.
struct DevUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-upstream",
        abstract: "Run a development OAuth provider (auto-approving, in memory).",
        discussion: "Serves OIDC discovery at /.well-known/openid-configuration; stop it with Ctrl-C.")

    /// The client secret the provider expects when none is given through the environment.
    static let defaultClientSecret = "dev-secret"

    @Option(help: ArgumentHelp("Where to listen; port 0 picks a free port.", valueName: "host:port"), transform: ListenAddress.parse)
    var listen = ListenAddress(host: "127.0.0.1", port: 9000)

    @Option(name: .customLong("access-ttl"), help: ArgumentHelp("Upstream access-token lifetime in seconds (or 30s/15m/2h/7d).", valueName: "seconds"),
            transform: Parse.duration)
    var accessTTL: DurationArgument = DurationArgument(seconds: 3600)

    @Flag(name: .customLong("no-rotate"), help: "Keep the refresh token on refresh instead of rotating it.")
    var noRotate = false

    @Flag(name: .customLong("no-refresh-tokens"), help: "Issue no refresh tokens at all.")
    var noRefreshTokens = false

    @Option(name: .customLong("client-id"), help: ArgumentHelp("The client id the provider accepts.", valueName: "id"))
    var clientID = "tollgate-dev"

    @Option(name: .customLong("client-secret-env"),
            help: ArgumentHelp("Read the accepted client secret from this environment variable (default: \(defaultClientSecret)).", valueName: "var"))
    var clientSecretEnv: String?

    @Option(name: .customLong("auth-method"), help: "The client authentication the provider requires.")
    var authMethod: ClientAuthMethod = .clientSecretBasic

    func validate() throws {
        guard !clientID.isEmpty else { throw ValidationError("--client-id must not be empty") }
        if authMethod == .none, clientSecretEnv != nil {
            throw ValidationError("--auth-method none takes no client secret")
        }
        _ = try SecretSource.from(env: clientSecretEnv, file: nil)
    }

    func run() async throws {
        var secret: String?
        if authMethod != .none {
            secret = try SecretSource.from(env: clientSecretEnv, file: nil)?.read().value ?? Self.defaultClientSecret
        }
        var behaviour = DevUpstreamBehaviour()
        behaviour.accessTTL = accessTTL.seconds
        behaviour.rotateRefreshTokens = !noRotate
        behaviour.issueRefreshTokens = !noRefreshTokens
        let state = DevUpstreamState(behaviour: behaviour,
                                     client: DevUpstreamClient(clientID: clientID, clientSecret: secret, authMethod: authMethod))
        let host = listen.host
        do {
            try await DevUpstream(host: host, port: listen.port, state: state).run(handleSignals: true, onRunning: { port in
                Output.raw(Data("dev-upstream listening on http://\(ListenAddress(host: host, port: port).authority)\n".utf8))
            })
        } catch {
            throw CommandFailure("dev-upstream on \(listen.authority) failed: \(error)")
        }
    }
}
