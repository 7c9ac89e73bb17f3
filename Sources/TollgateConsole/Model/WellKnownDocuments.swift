import Foundation

/// A server's two well-known documents, byte for byte as `serve` returns them, with their URLs.
public struct WellKnownDocuments: Sendable, Equatable {
    /// The server, and each document with the URL `serve` answers it at.
    public var serverSlug: String
    public var authorizationServerURL: String
    public var authorizationServer: Data
    public var protectedResourceURL: String
    public var protectedResource: Data

    /// The documents of one server.
    public init(serverSlug: String, authorizationServerURL: String, authorizationServer: Data,
                protectedResourceURL: String, protectedResource: Data) {
        self.serverSlug = serverSlug
        self.authorizationServerURL = authorizationServerURL
        self.authorizationServer = authorizationServer
        self.protectedResourceURL = protectedResourceURL
        self.protectedResource = protectedResource
    }
}
