/// Which grants a bulk action touches: exact conditions only (a subject is matched exactly, `bob` is not
/// `bobby`), at least one of subject, client and server.
///
/// Browsing filters by subject prefix; a bulk action never does, so that what it changes is what it names.
public struct GrantScope: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The exact upstream subject.
    public var subject: String?
    /// The exact client id.
    public var clientID: String?
    /// The server's slug.
    public var serverSlug: String?
    /// The status at the time each grant is reached (``Grant/status(at:)``).
    public var status: GrantStatus?

    /// A scope with these exact conditions.
    public init(subject: String? = nil, clientID: String? = nil, serverSlug: String? = nil, status: GrantStatus? = nil) {
        self.subject = subject
        self.clientID = clientID
        self.serverSlug = serverSlug
        self.status = status
    }

    /// Whether the scope names a subject, client or server (a status alone would reach most grants).
    public var isBounded: Bool { subject != nil || clientID != nil || serverSlug != nil }

    /// `subject=bob client=tgc_… server=files status=active`, as the audit trail, the CLI and the console write it.
    public var description: String {
        var parts: [String] = []
        if let subject { parts.append("subject=\(subject)") }
        if let clientID { parts.append("client=\(clientID)") }
        if let serverSlug { parts.append("server=\(serverSlug)") }
        if let status { parts.append("status=\(status.rawValue)") }
        return parts.isEmpty ? "every grant" : parts.joined(separator: " ")
    }

    /// The listing query of this scope: oldest first, so that a keyset cursor moves past every grant once
    /// whatever the action does to the rows behind it.
    public func query(limit: Int, after: String? = nil) -> GrantQuery {
        GrantQuery(serverSlug: serverSlug, status: status, clientID: clientID, subject: subject, sort: .oldest, limit: limit, after: after)
    }
}
