import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetches client ID metadata documents without letting a `client_id` reach into Tollgate's own network (SSRF).
///
/// - HTTPS only (the URL rule guarantees it); TLS verifies the certificate against the URL's host name.
/// - The host is resolved once; EVERY address it resolves to must be public (``NetworkAddressClass``), else the
///   fetch is refused. The connection then goes to an address that was checked (AsyncHTTPClient's `dnsOverride`),
///   so a second, different answer from DNS (rebinding) is never used.
/// - No redirects: a 3xx is a failed fetch. Any status but 200 is a failed fetch.
/// - Short timeouts (connect 2 s, everything 5 s by default) and a bounded body: reading stops past
///   ``ClientMetadataDocument/maximumBytes``.
/// - No proxy, no cookies, no retries.
public struct HTTPClientMetadataFetcher: ClientMetadataFetcher {
    /// How the fetcher connects.
    public struct Configuration: Sendable {
        /// Development only (`serve --client-metadata-allow-loopback`): loopback addresses may be fetched too.
        /// Private, link-local, metadata and the other ranges stay refused.
        public var allowLoopback: Bool
        public var connectTimeout: TimeInterval
        /// The whole fetch: resolution, connection, TLS, request and body.
        public var totalTimeout: TimeInterval
        /// The TLS configuration (trust roots) of the connection; ``Tollgate/outboundTLSConfiguration(environment:)``.
        public var tls: TLSConfiguration
        /// Resolves a host name to numeric addresses (default: the system resolver, `getaddrinfo`).
        public var resolve: @Sendable (_ host: String, _ port: Int) async throws -> [String]

        public init(allowLoopback: Bool = false, connectTimeout: TimeInterval = 2, totalTimeout: TimeInterval = 5,
                    tls: TLSConfiguration = .makeClientConfiguration(),
                    resolve: @escaping @Sendable (_ host: String, _ port: Int) async throws -> [String] = HTTPClientMetadataFetcher.systemResolve) {
            self.allowLoopback = allowLoopback
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.tls = tls
            self.resolve = resolve
        }
    }

    public let configuration: Configuration
    let logger: Logger

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "tollgate.client-metadata")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Fetches the document within ``Configuration/totalTimeout``. At the deadline the refusal is returned at
    /// once; the abandoned request is cancelled and stopped by the HTTP client's own timeouts, without the
    /// authorization waiting for it.
    public func fetch(_ url: ClientMetadataURL) async throws -> ClientMetadataResponse {
        try await withAbandoningDeadline(seconds: configuration.totalTimeout, timeoutError: tookTooLong) {
            try await self.fetchWithoutDeadline(url)
        }
    }

    /// The error of a fetch that ran out of its total time. The HTTP client's own deadline and read timeout equal
    /// the total deadline of ``fetch(_:)`` (they also stop the abandoned request), so whichever fires first, a slow
    /// server gets this one error.
    var tookTooLong: ClientMetadataError {
        ClientMetadataError(.fetchFailed, "fetching the document took longer than \(Self.seconds(configuration.totalTimeout))")
    }

    /// Whether `error` is the HTTP client's deadline or read timeout.
    static func ranOutOfTime(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .deadlineExceeded || error == .readTimeout
    }

    func fetchWithoutDeadline(_ url: ClientMetadataURL) async throws -> ClientMetadataResponse {
        let address = try await checkedAddress(url)
        var http = HTTPClient.Configuration(tlsConfiguration: configuration.tls, redirectConfiguration: .disallow,
                                            timeout: .init(connect: .milliseconds(Int64(configuration.connectTimeout * 1000)),
                                                           read: .milliseconds(Int64(configuration.totalTimeout * 1000))))
        http.connectionPool.retryConnectionEstablishment = false
        http.httpVersion = .http1Only
        if NetworkAddressClass.classify(url.hostAsWritten) == nil {
            http.dnsOverride[url.hostAsWritten] = address
            http.dnsOverride[url.host] = address
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        do {
            let response = try await send(url, with: client)
            try? await client.shutdown()
            return response
        } catch {
            // Not awaited: a connection to a server that stalls would hold the refusal until that server answers.
            Task { try? await client.shutdown() }
            throw error
        }
    }

    func send(_ url: ClientMetadataURL, with client: HTTPClient) async throws -> ClientMetadataResponse {
        var request = HTTPClientRequest(url: url.text)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Tollgate/\(TollgateCoreVersion.string)")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(Int64(configuration.totalTimeout * 1000)))
        } catch {
            if Self.ranOutOfTime(error) { throw tookTooLong }
            throw ClientMetadataError(.fetchFailed, "the document could not be fetched (\(Self.describe(error)))")
        }
        guard response.status.code == 200 else {
            let redirect = (300..<400).contains(Int(response.status.code)) ? "; redirects are not followed" : ""
            throw ClientMetadataError(.fetchFailed, "the document URL answered HTTP \(response.status.code)\(redirect)")
        }
        let limit = ClientMetadataDocument.maximumBytes
        var body = Data()
        do {
            for try await chunk in response.body {
                guard body.count + chunk.readableBytes <= limit else {
                    throw ClientMetadataError(.invalidDocument, "the document is larger than \(limit) bytes")
                }
                body.append(contentsOf: chunk.readableBytesView)
            }
        } catch let error as ClientMetadataError {
            throw error
        } catch {
            if Self.ranOutOfTime(error) { throw tookTooLong }
            throw ClientMetadataError(.fetchFailed, "the document could not be read (\(Self.describe(error)))")
        }
        return ClientMetadataResponse(body: body, contentType: response.headers.first(name: "Content-Type"),
                                      cacheControl: response.headers.first(name: "Cache-Control"))
    }

    /// The address to connect to: the literal, or the first of the host's addresses once all of them passed.
    func checkedAddress(_ url: ClientMetadataURL) async throws -> String {
        let addresses: [String]
        if NetworkAddressClass.classify(url.host) != nil {
            addresses = [url.host]
        } else {
            do {
                addresses = try await configuration.resolve(url.host, url.port ?? 443)
            } catch {
                throw ClientMetadataError(.fetchFailed, "the host \(url.host) could not be resolved")
            }
        }
        guard !addresses.isEmpty else { throw ClientMetadataError(.fetchFailed, "the host \(url.host) has no address") }
        for address in addresses {
            let kind = NetworkAddressClass.classify(address) ?? .reserved
            guard kind.isFetchable(allowLoopback: configuration.allowLoopback) else {
                throw ClientMetadataError(.forbiddenAddress, url.host == address
                    ? "the document URL names an address Tollgate does not fetch from (\(kind.rawValue))"
                    : "the host \(url.host) resolves to an address Tollgate does not fetch from (\(kind.rawValue))")
            }
        }
        return addresses[0]
    }

    /// The system resolver (`getaddrinfo`), run off the caller's executor: numeric IPv4 and IPv6 addresses.
    public static func systemResolve(_ host: String, _ port: Int) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try getAddresses(host, port) })
            }
        }
    }

    static func getAddresses(_ host: String, _ port: Int) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw ClientMetadataError(.fetchFailed, "the host \(host) could not be resolved")
        }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(text) { addresses.append(text) }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .connectTimeout || error == .deadlineExceeded || error == .readTimeout { return "timed out" }
            return UpstreamError.sanitize(String(describing: error), limit: 120)
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError { return "TLS failed: \(UpstreamError.sanitize(String(describing: error), limit: 120))" }
        return UpstreamError.sanitize(String(describing: error), limit: 120)
    }

    static func seconds(_ value: TimeInterval) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
