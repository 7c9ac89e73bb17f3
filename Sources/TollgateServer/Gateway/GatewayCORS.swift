import HTTPTypes
import Hummingbird
import TollgateCore

/// The browser side of the gateway: pages of the origins a server admits (``ServerPolicy/admits(originHeader:publicOrigin:)``)
/// may call it (CORS, preflight included); a request whose `Origin` names any other origin is refused before
/// anything is looked up or forwarded, so a page that rebinds a DNS name to Tollgate, or any other site, cannot
/// reach the MCP server behind it through a user's browser.
enum GatewayCORS {
    /// The methods of MCP's Streamable HTTP transport.
    static let methods = "GET, POST, DELETE, OPTIONS"
    /// The request headers MCP clients send.
    static let requestHeaders = "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name"
    /// The response headers a browser client must be able to read: the challenge and the session.
    static let exposedHeaders = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version"

    /// Lets the page at `origin` (already admitted) read `response`.
    static func allow(_ response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = exposedHeaders
        response.headers[.vary] = "Origin"
    }

    /// 204 answer to the preflight of an admitted origin.
    static func preflight(origin: String) -> Response {
        var response = Response(status: .noContent, headers: [
            .accessControlAllowMethods: methods,
            .accessControlAllowHeaders: requestHeaders,
            .accessControlMaxAge: "600",
        ])
        allow(&response, origin: origin)
        return response
    }

    /// 403 for an origin the server does not admit; the body says why and how an admin would allow it.
    static func refused() -> Response {
        var response = Responses.json([
            "error": "invalid_origin",
            "error_description": "requests from this page's origin may not call this MCP server (an admin allows an origin with tollgate server set SLUG --allowed-origin)",
        ], status: .forbidden)
        response.headers[.vary] = "Origin"
        return response
    }
}
