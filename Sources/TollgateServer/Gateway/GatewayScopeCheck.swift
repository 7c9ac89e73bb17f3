import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore

/// The gateway's step-up check for a server with scope rules: reads the JSON-RPC body of a POST, checks the
/// `Mcp-Method` / `Mcp-Name` headers against it, and refuses a call the grant's scopes (closed under the
/// hierarchy) do not cover with 403 `insufficient_scope` (RFC 6750 §3.1; MCP authorization, "Scope Challenge
/// Handling"). Scopes are always decided from the body: a header only has to agree with it.
enum GatewayScopeCheck {
    /// The largest body the check reads (1 MiB); beyond it the request is answered 413 and nothing is forwarded.
    static let maximumBodyBytes = 1 << 20

    static let methodHeader = HTTPField.Name("Mcp-Method")!
    static let nameHeader = HTTPField.Name("Mcp-Name")!

    /// JSON-RPC error codes: parse error, invalid request, and the transport's `HeaderMismatch`.
    static let parseError = -32700, invalidRequest = -32600, headerMismatch = -32020

    /// `nil` when the call in `body` may be forwarded; otherwise the refusal to answer with.
    ///
    /// - Parameters:
    ///   - granted: the grant's scopes (the hierarchy is applied here).
    ///   - resourceMetadata: the protected-resource metadata URL the challenge points at.
    static func refusal(body: ByteBuffer, headers: HTTPFields, rules: ScopeRules, granted: [String], resourceMetadata: String) -> Response? {
        let call: MCPCall
        do throws(MCPCall.Refusal) {
            call = try MCPCall(body: Data(buffer: body, byteTransferStrategy: .noCopy))
        } catch {
            switch error {
            case .batch: return jsonRPCError(id: nil, code: invalidRequest, "a POST carries one JSON-RPC message; batches are not allowed")
            case .notJSONRPC(let reason): return jsonRPCError(id: nil, code: parseError, reason)
            }
        }
        if let mismatch = call.headerMismatch(methodHeader: headers[methodHeader], nameHeader: headers[nameHeader]) {
            return jsonRPCError(id: call.id, code: headerMismatch, mismatch)
        }
        guard let method = call.method else { return nil }
        let required = rules.requiredScopes(method: method, name: call.name)
        let missing = rules.missing(required, granted: granted)
        guard !missing.isEmpty else { return nil }
        return insufficientScope(required: required, missing: missing, resourceMetadata: resourceMetadata)
    }

    /// The methods of MCP's Streamable HTTP transport: POST a message, GET a stream, DELETE a session.
    static let transportMethods: [HTTPRequest.Method] = [.post, .get, .delete]

    /// `nil` when a request that is not a POST may be forwarded to a server with scope rules: a GET or DELETE without
    /// a body. Any other method gets 405 (`Allow` names the transport's methods) and a body on a GET or DELETE gets
    /// 400, since the backend might read a call from it that no scope check saw.
    static func refusal(method: HTTPRequest.Method, bodyBytes: Int) -> Response? {
        guard transportMethods.contains(method) else {
            var response = Responses.json(["error": "method_not_allowed",
                                           "error_description": "this MCP server takes only GET, POST and DELETE"], status: .methodNotAllowed)
            response.headers[.allow] = transportMethods.map(\.rawValue).joined(separator: ", ")
            return response
        }
        guard bodyBytes == 0 else {
            return Responses.json(["error": "invalid_request",
                                   "error_description": "a \(method.rawValue) to this MCP server carries no body; calls are POSTed"], status: .badRequest)
        }
        return nil
    }

    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…", resource_metadata="…"`. The
    /// `scope` lists every scope the call needs, granted ones included (what the MCP specification asks for: the
    /// scopes necessary for the operation; the client adds those it holds when it re-authorizes).
    static func insufficientScope(required: [String], missing: [String], resourceMetadata: String) -> Response {
        let description = "this call needs the scope " + missing.joined(separator: " ") + "; authorize again with it"
        var response = Responses.json(["error": "insufficient_scope", "error_description": description,
                                       "scope": required.joined(separator: " ")], status: .forbidden)
        response.headers[.wwwAuthenticate] = "Bearer error=\"insufficient_scope\", scope=\"\(required.joined(separator: " "))\", "
            + "resource_metadata=\"\(resourceMetadata)\", error_description=\"\(description)\""
        return response
    }

    /// 400 with a JSON-RPC error object (the transport's shape for `HeaderMismatch`).
    static func jsonRPCError(id: JSONValue?, code: Int, _ message: String) -> Response {
        let idValue: Any = switch id {
        case .string(let s)?: s
        case .number(let n)?: n.rounded() == n && abs(n) < 1e15 ? Int(n) as Any : n as Any
        default: NSNull()
        }
        let object: [String: Any] = ["jsonrpc": "2.0", "id": idValue, "error": ["code": code, "message": message] as [String: Any]]
        return Responses.json(object, status: .badRequest)
    }
}
