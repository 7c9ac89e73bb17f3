import TollgateCore

/// A server with its provider (if it has one): a row of the servers and providers views.
public struct ServerEntry: Sendable, Equatable {
    public var server: Server
    public var provider: Provider?

    public init(server: Server, provider: Provider?) {
        self.server = server
        self.provider = provider
    }
}
