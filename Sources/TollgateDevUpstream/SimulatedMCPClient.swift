import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TollgateCore

/// An MCP client that walks Tollgate's real HTTP endpoints the way a user's client would: dynamic
/// registration, authorize, the consent form, the (dev) upstream login, the callback and the token
/// endpoint. Used by `tollgate demo` to create realistic grants.
public struct SimulatedMCPClient: Sendable {
    let http: HTTPClient
    /// Tollgate's public base URL.
    public let baseURL: String

    /// A failed step of the simulated flow.
    public struct FlowError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(http: HTTPClient, baseURL: String) {
        self.http = http
        self.baseURL = baseURL
    }

    /// Registers a public client (RFC 7591) and returns its `client_id`.
    public func register(serverSlug: String, name: String, redirectURI: String) async throws -> String {
        var request = HTTPClientRequest(url: "\(baseURL)/oauth/\(serverSlug)/register")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = try JSONSerialization.data(withJSONObject: [
            "client_name": name, "redirect_uris": [redirectURI], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        ])
        request.body = .bytes(ByteBuffer(bytes: body))
        let (status, _, data) = try await send(request)
        guard status == 201, let id = JSONValue.object(from: data)?["client_id"]?.stringValue else {
            throw FlowError(description: "registration answered HTTP \(status)")
        }
        return id
    }

    /// Runs the whole authorization as `user` and returns the proxy token pair.
    public func authorize(serverSlug: String, clientID: String, redirectURI: String, user: String) async throws -> (access: String, refresh: String) {
        let verifier = TokenGenerator.make(prefix: "").value
        let query = FormEncoding.encode([
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("state", "demo"),
            ("code_challenge", TokenGenerator.s256Challenge(of: verifier)), ("code_challenge_method", "S256"),
            ("scope", "offline_access"),
        ])
        let (pageStatus, pageHeaders, page) = try await send(HTTPClientRequest(url: "\(baseURL)/oauth/\(serverSlug)/authorize?\(query)"))
        guard pageStatus == 200 else { throw FlowError(description: "authorize answered HTTP \(pageStatus)") }
        let html = String(decoding: page, as: UTF8.self)
        guard let transaction = Self.hidden("transaction", in: html), let csrf = Self.hidden("csrf_token", in: html),
              let cookie = pageHeaders.first(name: "set-cookie")?.split(separator: ";").first else {
            throw FlowError(description: "the consent page has no form")
        }
        var consent = HTTPClientRequest(url: "\(baseURL)/oauth/\(serverSlug)/consent")
        consent.method = .POST
        consent.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        consent.headers.add(name: "Cookie", value: String(cookie))
        consent.body = .bytes(ByteBuffer(string: FormEncoding.encode([("transaction", transaction), ("csrf_token", csrf), ("decision", "approve")])))
        let (upstream, consentHeaders) = try await redirect(consent)
        let callback = try await location(HTTPClientRequest(url: upstream + "&login_hint=" + FormEncoding.encodeComponent(user)))
        // Back in the same browser: the callback completes only with the cookies the consent approval set.
        var callbackRequest = HTTPClientRequest(url: callback)
        let jar = ([String(cookie)] + consentHeaders["set-cookie"].compactMap { $0.split(separator: ";").first.map(String.init) })
        callbackRequest.headers.add(name: "Cookie", value: jar.joined(separator: "; "))
        let final = try await location(callbackRequest)
        guard let code = URLComponents(string: final)?.queryItems?.first(where: { $0.name == "code" })?.value else {
            throw FlowError(description: "the client redirect carries no code")
        }
        var token = HTTPClientRequest(url: "\(baseURL)/oauth/\(serverSlug)/token")
        token.method = .POST
        token.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        token.body = .bytes(ByteBuffer(string: FormEncoding.encode([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier), ("client_id", clientID),
        ])))
        let (status, _, data) = try await send(token)
        let json = JSONValue.object(from: data)
        guard status == 200, let access = json?["access_token"]?.stringValue, let refresh = json?["refresh_token"]?.stringValue else {
            throw FlowError(description: "the token endpoint answered HTTP \(status)")
        }
        return (access, refresh)
    }

    /// Refreshes a proxy token pair at the token endpoint (`grant_type=refresh_token`, a public client) and returns the
    /// rotated pair; `nil` when the endpoint refused (the HTTP status is in the error otherwise).
    public func refresh(serverSlug: String, clientID: String, refreshToken: String) async throws -> (access: String, refresh: String)? {
        var token = HTTPClientRequest(url: "\(baseURL)/oauth/\(serverSlug)/token")
        token.method = .POST
        token.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        token.body = .bytes(ByteBuffer(string: FormEncoding.encode([
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", clientID),
        ])))
        let (status, _, data) = try await send(token)
        let json = JSONValue.object(from: data)
        guard status == 200, let access = json?["access_token"]?.stringValue, let refresh = json?["refresh_token"]?.stringValue else {
            return nil
        }
        return (access, refresh)
    }

    /// Calls the MCP gateway once (`tools/call whoami`) and returns the HTTP status.
    public func callTool(serverSlug: String, accessToken: String) async throws -> Int {
        var request = HTTPClientRequest(url: "\(baseURL)/mcp/\(serverSlug)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}"#))
        return try await send(request).0
    }

    private func location(_ request: HTTPClientRequest) async throws -> String {
        try await redirect(request).location
    }

    /// The target of a redirect and the response's headers (its cookies).
    private func redirect(_ request: HTTPClientRequest) async throws -> (location: String, headers: HTTPHeaders) {
        let (status, headers, _) = try await send(request)
        guard status == 302 || status == 303, let location = headers.first(name: "location") else {
            throw FlowError(description: "expected a redirect from \(request.url.split(separator: "?").first ?? ""), got HTTP \(status)")
        }
        return (location, headers)
    }

    private func send(_ request: HTTPClientRequest) async throws -> (Int, HTTPHeaders, Data) {
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers, Data(body.readableBytesView))
    }

    static func hidden(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = html[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&")
    }
}
