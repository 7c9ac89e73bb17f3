/// What the HTTP face adds to the fetches of client ID metadata documents one authorization request may cause: the
/// rate limit of the request's source on documents never accepted before, and a count of what became of each.
///
/// Documents that have a client row (accepted before) are never limited by ``admitNewDocument``; every fetch is
/// still held to the backoff of failing URLs and the cap on fetches in flight (see
/// ``TokenService/resolveClient(_:server:fetchingDocument:fetchPolicy:)``).
public struct ClientMetadataFetchPolicy: Sendable {
    /// Asked once before the first fetch of a document that no client row holds yet: `nil` admits it, a number
    /// refuses it for that many whole seconds (HTTP 429 with `Retry-After`).
    public var admitNewDocument: @Sendable () -> Int?
    /// Told what became of each fetch the request started, or why none was started.
    public var observe: @Sendable (ClientMetadataFetchOutcome) -> Void

    public init(admitNewDocument: @escaping @Sendable () -> Int?, observe: @escaping @Sendable (ClientMetadataFetchOutcome) -> Void = { _ in }) {
        self.admitNewDocument = admitNewDocument
        self.observe = observe
    }

    /// No rate limit and nothing counted (callers without an HTTP face: the CLI, tests of the core).
    public static let unlimited = ClientMetadataFetchPolicy(admitNewDocument: { nil })
}

/// What became of a request for a client ID metadata document that was not cached (the metric's `outcome` label).
public enum ClientMetadataFetchOutcome: String, Sendable, CaseIterable {
    /// Fetched and accepted.
    case accepted
    /// Fetched, or tried to be, and refused: address, connection, TLS, timeout, status or content.
    case failed
    /// Not fetched: the URL failed recently and its backoff has not passed.
    case backingOff = "backing_off"
    /// Not fetched: the request's source, or everyone together, had too many new documents fetched.
    case limited
    /// Not fetched: too many fetches were in flight.
    case busy
}
