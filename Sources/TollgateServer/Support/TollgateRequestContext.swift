import Hummingbird
import NIOCore

/// The request context of `tollgate serve`'s router: Hummingbird's basic context plus the connection's
/// peer address (read only when asked for: the gateway in `--forwarded-headers set`).
public struct TollgateRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's per-request storage (logger, route parameters).
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    /// The context of one request on `source`'s connection.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The address of the client's end of the connection.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
}
