import TollgateCore

/// A client with the slug of its server: a row of the clients view.
public struct ClientEntry: Sendable, Equatable {
    public var client: Client
    public var serverSlug: String

    public init(client: Client, serverSlug: String) {
        self.client = client
        self.serverSlug = serverSlug
    }
}
