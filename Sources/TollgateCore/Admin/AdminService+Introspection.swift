import Foundation

extension AdminService {
    /// Creates an introspection credential for a resource server of `serverSlug`; the returned secret is
    /// random (256 bits), stored only as its SHA-256, and never retrievable again.
    public func addIntrospectionCredential(serverSlug: String, name: String) async throws -> IssuedIntrospectionCredential {
        let server = try await server(slug: serverSlug)
        guard !name.isEmpty, name.count <= 200,
              !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw TollgateError.invalidInput("the name must be 1-200 characters without control characters")
        }
        let now = clock.now()
        let id = IntrospectionCredential.idPrefix + TokenGenerator.make(prefix: "").value.prefix(22)
        let secret = TokenGenerator.make(prefix: IntrospectionCredential.secretPrefix)
        let credential = IntrospectionCredential(id: id, serverID: server.id, name: name, createdAt: now)
        try await store.createIntrospectionCredential(credential, secretHash: TokenGenerator.hash(secret), audit: NewAuditEvent(
            actor: actor, action: "introspection-credential.create", serverID: server.id, detail: "\(id) (\(name))"))
        return IssuedIntrospectionCredential(credential: credential, secret: secret)
    }

    /// The introspection credentials of a server, revoked ones included, oldest first.
    public func introspectionCredentials(serverSlug: String) async throws -> [IntrospectionCredential] {
        try await store.introspectionCredentials(serverID: try server(slug: serverSlug).id)
    }

    /// Revokes an introspection credential; its resource server is refused from now on. Returns it as revoked.
    public func revokeIntrospectionCredential(id: String) async throws -> IntrospectionCredential {
        let now = clock.now()
        guard var credential = try await store.introspectionCredential(id: id) else {
            throw TollgateError.notFound("no introspection credential '\(id)'")
        }
        if try await store.revokeIntrospectionCredential(id: id, audit: NewAuditEvent(
            actor: actor, action: "introspection-credential.revoke", serverID: credential.serverID,
            detail: "\(id) (\(credential.name))"), at: now) {
            credential.revokedAt = now
        }
        return credential
    }
}
