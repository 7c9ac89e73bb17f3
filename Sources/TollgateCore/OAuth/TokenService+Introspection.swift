import Foundation

extension TokenService {
    /// Authenticates a resource server at the introspection endpoint of `server`: an unrevoked
    /// ``IntrospectionCredential`` of that server, presented with its secret (Basic or form), compared in
    /// constant time. Anything else, including every registered client, is `invalid_client`.
    public func authenticateIntrospection(_ credentials: ClientCredentials, server: Server) async throws -> IntrospectionCredential {
        let refused = OAuthError.invalidClient("introspection requires a resource-server credential issued by the administrator")
        guard credentials.method != .none, let secret = credentials.secret,
              credentials.clientID.hasPrefix(IntrospectionCredential.idPrefix),
              let credential = try await store.introspectionCredential(id: credentials.clientID),
              credential.serverID == server.id, credential.revokedAt == nil,
              let stored = try await store.introspectionCredentialSecretHash(id: credential.id),
              TokenGenerator.constantTimeEqual(TokenGenerator.hash(secret), stored) else {
            throw refused
        }
        return credential
    }
}
