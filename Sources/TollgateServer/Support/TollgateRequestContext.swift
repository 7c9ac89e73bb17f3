import Hummingbird
import NIOCore

/// The request context of `serve`: Hummingbird's core storage plus the connection's peer address
/// (read from the channel only when asked, so the gateway's hot path does not pay for it).
public struct TollgateRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The address of the connected peer; `nil` for in-memory test channels.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
}
