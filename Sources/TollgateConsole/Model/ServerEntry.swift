import TollgateCore

/// A server with its provider (if it has one): a row of the servers and providers views.
public struct ServerEntry: Sendable, Equatable {
    public var server: Server
    public var provider: Provider?
    /// How the server's upstream refreshes went over the last hour (the providers view); `nil` when none ran.
    public var health: RefreshHealth?

    public init(server: Server, provider: Provider?, health: RefreshHealth? = nil) {
        self.server = server
        self.provider = provider
        self.health = health
    }
}
