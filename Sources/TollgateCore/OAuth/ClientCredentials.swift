/// How a client presented itself at a token, revocation or introspection endpoint.
public struct ClientCredentials: Sendable {
    public var clientID: String
    public var secret: Secret?
    /// How the credentials arrived (`client_secret_basic`, `client_secret_post` or `none`).
    public var method: ClientAuthMethod

    public init(clientID: String, secret: Secret?, method: ClientAuthMethod) {
        self.clientID = clientID
        self.secret = secret
        self.method = method
    }
}
