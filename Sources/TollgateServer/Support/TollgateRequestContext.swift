import Hummingbird
import NIOCore

/// The request context of `tollgate serve`'s router: Hummingbird's basic context plus the connection's
/// peer address (read from the channel only when asked — the registration limiter and the gateway in
/// `--forwarded-headers set` — so the gateway's hot path does not pay for it), and the ``AccessNote`` the
/// handlers fill in for the access log.
public struct TollgateRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's per-request storage (logger, route parameters).
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel
    /// What the handlers found out about the request, for the access log.
    public let accessNote = AccessNote()

    /// The context of one request on `source`'s connection.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The address of the client's end of the connection; `nil` for in-memory test channels.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
}
