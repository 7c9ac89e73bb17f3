import Foundation

/// What a fetch of a client ID metadata document returned: the body (at most a few KiB) and the headers that
/// validation and caching look at.
public struct ClientMetadataResponse: Sendable {
    public var body: Data
    public var contentType: String?
    public var cacheControl: String?

    public init(body: Data, contentType: String?, cacheControl: String?) {
        self.body = body
        self.contentType = contentType
        self.cacheControl = cacheControl
    }
}

/// Fetches client ID metadata documents; ``HTTPClientMetadataFetcher`` does it SSRF-safely over HTTPS.
public protocol ClientMetadataFetcher: Sendable {
    /// GETs the document at `url`. Throws a ``ClientMetadataError`` (`.forbiddenAddress`, `.fetchFailed` or
    /// `.invalidDocument` for an oversized body) for anything but a 200 with a body within the size limit.
    func fetch(_ url: ClientMetadataURL) async throws -> ClientMetadataResponse
}
