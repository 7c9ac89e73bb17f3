import Foundation
import TollgateCore

/// A client with the slug of its server: a row of the clients view.
public struct ClientEntry: Sendable, Equatable {
    public var client: Client
    public var serverSlug: String

    public init(client: Client, serverSlug: String) {
        self.client = client
        self.serverSlug = serverSlug
    }

    /// `document` for a client identified by a client ID metadata document, else how it was registered
    /// (`dynamic`, `admin`).
    public var kind: String { client.metadataDocument == nil ? client.registeredBy : "document" }

    /// For a metadata-document client, its document's host and how the last fetch went ("app.example · 2m ago",
    /// "app.example · failed"), and whether that fetch failed; `nil` for a registered client.
    public func documentState(now: Date) -> (text: String, failed: Bool)? {
        guard let document = client.metadataDocument else { return nil }
        if document.lastFetchFailed { return ("\(document.host) · failed", true) }
        let fetched = document.lastFetchedAt.map { TimeText.relative($0, now: now) } ?? "never fetched"
        return ("\(document.host) · \(fetched)", false)
    }
}
