import Hummingbird
import NIOCore

/// The request context of `tollgate serve`'s router: Hummingbird's basic context plus the connection's
/// peer address (read only when asked for: the gateway in `--forwarded-headers set`).
public struct TollgateRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The address of the client's end of the connection.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
}
