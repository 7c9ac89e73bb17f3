import ArgumentParser
import Foundation
import Logging
import TollgateCore
import TollgateServer

/// `tollgate serve`: the OAuth 2.1 authorization server and MCP gateway.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OAuth endpoints, the consent page and the MCP gateway.",
        discussion: "Stops gracefully on SIGTERM or SIGINT: in-flight requests and upstream refreshes (up to 30 s) finish first. SIGHUP is logged and serving goes on.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Where to listen; port 0 picks a free port.", valueName: "host:port"), transform: ListenAddress.parse)
    var listen = ListenAddress(host: "127.0.0.1", port: 8080)

    @Option(name: .customLong("public-url"), help: ArgumentHelp("The base URL clients use (default: http://<listen>).", valueName: "url"),
            transform: Parse.baseURL)
    var publicURL: String?

    @Option(name: .customLong("max-body"), help: ArgumentHelp("Largest request body in bytes.", valueName: "bytes"))
    var maxBody = 1 << 20

    @Option(name: .customLong("upstream-timeout"), help: ArgumentHelp("How long a request waits for the upstream OAuth provider (seconds or 30s/2m); a refresh already sent is still awaited (up to 4x this, at least 120 s) and stored.", valueName: "duration"),
            transform: Parse.duration)
    var upstreamTimeout = DurationArgument(seconds: 10)

    @Option(name: .customLong("gateway-timeout"), help: ArgumentHelp("Time the MCP server has to start answering (seconds or 30s/2m).", valueName: "duration"),
            transform: Parse.duration)
    var gatewayTimeout = DurationArgument(seconds: 60)

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("access-log"), help: "on: one info-level `request` line per request on stderr; off: none (benchmarks).")
    var accessLog = Toggle.on

    @Option(name: .customLong("registration-limit"),
            help: ArgumentHelp("Dynamic registrations per source address (IPv6: per /64): COUNT at once, refilled COUNT per PERIOD (default 10/1m).", valueName: "count/period"),
            transform: RateArgument.parse)
    var registrationLimit = RateArgument(.registrationPerAddress)

    @Option(name: .customLong("registration-global-limit"),
            help: ArgumentHelp("Dynamic registrations from all addresses together (default 60/1m).", valueName: "count/period"), transform: RateArgument.parse)
    var registrationGlobalLimit = RateArgument(.registrationGlobal)

    @Option(name: .customLong("authorization-limit"),
            help: ArgumentHelp("Sign-ins started (pending authorizations stored) per source address (IPv6: per /64) (default 30/1m).",
                               valueName: "count/period"), transform: RateArgument.parse)
    var authorizationLimit = RateArgument(.authorizationPerAddress)

    @Option(name: .customLong("authorization-global-limit"),
            help: ArgumentHelp("Sign-ins started from all addresses together (default 600/1m).", valueName: "count/period"),
            transform: RateArgument.parse)
    var authorizationGlobalLimit = RateArgument(.authorizationGlobal)
    @Option(name: .customLong("client-metadata-limit"),
            help: ArgumentHelp("First fetches of client ID metadata documents (URLs not accepted before) per source address: COUNT at once, refilled COUNT per PERIOD (default 10/1m).", valueName: "count/period"),
            transform: RateArgument.parse)
    var clientMetadataLimit = RateArgument(.registrationPerAddress)

    @Option(name: .customLong("client-metadata-global-limit"),
            help: ArgumentHelp("First fetches of client ID metadata documents from all addresses together (default 60/1m).", valueName: "count/period"),
            transform: RateArgument.parse)
    var clientMetadataGlobalLimit = RateArgument(.registrationGlobal)

    @Option(name: .customLong("unused-client-ttl"),
            help: ArgumentHelp("Delete dynamically registered and metadata-document clients never used (no grant) after this long (default 24h).", valueName: "duration"),
            transform: Parse.duration)
    var unusedClientTTL = DurationArgument(seconds: 86_400)

    @Option(name: .customLong("audit-retention"),
            help: ArgumentHelp("Delete audit events older than this (default 90d). Expired tokens and codes go a day after expiry, stale pending authorizations at once; all in small background batches.", valueName: "duration"),
            transform: Parse.duration)
    var auditRetention = DurationArgument(seconds: Int(AdminService.defaultAuditRetention))

    @Option(name: .customLong("max-connections"),
            help: ArgumentHelp("Most client connections open at once (at most half the open-file limit).", valueName: "count"))
    var maxConnections = ConnectionLimits().maxConnections

    @Option(name: .customLong("head-timeout"), help: ArgumentHelp("Time a request head has to arrive complete (seconds or 30s/2m).", valueName: "duration"),
            transform: Parse.duration)
    var headTimeout = DurationArgument(seconds: Int(ConnectionLimits().headTimeout))

    @Option(name: .customLong("body-timeout"), help: ArgumentHelp("Time a request body may go without a byte (seconds or 30s/2m).", valueName: "duration"),
            transform: Parse.duration)
    var bodyTimeout = DurationArgument(seconds: Int(ConnectionLimits().bodyTimeout))

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Time a kept-alive connection may stay silent (seconds or 30s/2m).", valueName: "duration"),
            transform: Parse.duration)
    var idleTimeout = DurationArgument(seconds: Int(ConnectionLimits().idleTimeout))

    @Option(name: .customLong("forwarded-headers"),
            help: "drop: never pass the client's Forwarded/X-Forwarded-*/X-Real-IP to the MCP server; set: replace them with what Tollgate saw.")
    var forwardedHeaders = ForwardedHeadersMode.drop

    @Flag(name: .customLong("client-metadata-allow-loopback"),
          help: "DEVELOPMENT ONLY: let client ID metadata documents be fetched from 127.0.0.1 and ::1 (private and metadata ranges stay refused).")
    var clientMetadataAllowLoopback = false

    func validate() throws {
        guard (1024...(64 << 20)).contains(maxBody) else { throw ValidationError("--max-body must be between 1024 and 67108864") }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections must be between 1 and 1000000") }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else { throw ValidationError("--log-level '\(Output.singleLine(logLevel))' is not a level") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tollgate")
        var limits = ConnectionLimits(maxConnections: maxConnections, headTimeout: TimeInterval(headTimeout.seconds),
                                      bodyTimeout: TimeInterval(bodyTimeout.seconds), idleTimeout: TimeInterval(idleTimeout.seconds))
        if let descriptors = FileDescriptorLimit.raiseToHardLimit() {
            let affordable = ConnectionLimits.affordableConnections(requested: maxConnections, descriptorLimit: descriptors)
            if affordable < maxConnections {
                logger.warning("--max-connections lowered to what the open-file limit allows",
                               metadata: ["requested": "\(maxConnections)", "allowed": "\(affordable)", "open_file_limit": "\(descriptors)"])
            }
            limits.maxConnections = affordable
        }
        if clientMetadataAllowLoopback {
            logger.warning("--client-metadata-allow-loopback is on: client ID metadata documents may be fetched from 127.0.0.1 and ::1; never use this in production")
        }
        let metrics = ServerMetrics()
        let tollgate: Tollgate
        do {
            tollgate = try await database.open(upstreamTimeout: TimeInterval(upstreamTimeout.seconds), logger: logger,
                                               refreshObserver: { outcome, seconds in metrics.upstreamRefresh(outcome: outcome, seconds: seconds) },
                                               clientMetadataAllowLoopback: clientMetadataAllowLoopback)
        } catch {
            throw CommandFailure.wrap(error)
        }
        var configuration = ServerConfiguration(host: listen.host, port: listen.port, publicURL: publicURL, maxBodyBytes: maxBody,
                                                gatewayTimeout: TimeInterval(gatewayTimeout.seconds), connectionLimits: limits,
                                                forwardedHeaders: forwardedHeaders)
        configuration.registrationLimitPerAddress = registrationLimit.limit
        configuration.registrationLimitGlobal = registrationGlobalLimit.limit
        configuration.authorizationLimitPerAddress = authorizationLimit.limit
        configuration.authorizationLimitGlobal = authorizationGlobalLimit.limit
        configuration.clientMetadataLimitPerAddress = clientMetadataLimit.limit
        configuration.clientMetadataLimitGlobal = clientMetadataGlobalLimit.limit
        configuration.accessLog = accessLog == .on
        let server = TollgateHTTPServer(tollgate: tollgate, configuration: configuration, metrics: metrics, logger: logger)
        let sweepers = [
            BackgroundSweeper.unusedClients(tollgate.tokens, ttl: TimeInterval(unusedClientTTL.seconds), logger: logger),
            BackgroundSweeper.retention(tollgate.admin, auditRetention: TimeInterval(auditRetention.seconds), logger: logger),
            BackgroundSweeper.keyRotation(tollgate.vault, logger: logger),
        ]
        let sweeping = Task {
            await withTaskGroup(of: Void.self) { group in
                for sweeper in sweepers { group.addTask { await sweeper.run() } }
            }
        }
        let host = listen.host
        let drain: RefreshDrain
        do {
            drain = try await server.run(onRunning: { port in
                Output.raw(Data("tollgate serve listening on http://\(ListenAddress(host: host, port: port).authority)\n".utf8))
                logger.info("serving", metadata: ["store": "\(tollgate.store.displayName)", "port": "\(port)"])
            })
        } catch {
            sweeping.cancel()
            await sweeping.value
            await tollgate.shutdown()
            throw CommandFailure("serve on \(listen.authority) failed: \(error)")
        }
        sweeping.cancel()
        await sweeping.value
        await tollgate.shutdown()
        logger.notice("stopped", metadata: ["upstream_refreshes_in_flight": "\(drain.inFlight)", "upstream_refreshes_drained": "\(drain.finished)"])
    }
}
