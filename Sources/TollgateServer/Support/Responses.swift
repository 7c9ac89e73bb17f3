import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore

/// Response builders shared by every endpoint: JSON, OAuth errors, HTML pages and redirects.
enum Responses {
    /// A JSON response with `Cache-Control: no-store` (every token-endpoint response must carry it).
    static func json(_ object: Any, status: HTTPResponse.Status = .ok, noStore: Bool = true) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return json(body: ByteBuffer(bytes: data), status: status, noStore: noStore)
    }

    /// The same for a flat object of strings (errors, 401s), without `JSONSerialization`'s cost.
    static func json(_ object: [String: String], status: HTTPResponse.Status = .ok, noStore: Bool = true) -> Response {
        json(body: ByteBuffer(string: flatJSON(object)), status: status, noStore: noStore)
    }

    private static func json(body: ByteBuffer, status: HTTPResponse.Status, noStore: Bool) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if noStore {
            headers[.cacheControl] = "no-store"
            headers[pragma] = "no-cache"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    private static let pragma = HTTPField.Name("Pragma")!

    /// A JSON object of strings with sorted keys, as `JSONSerialization` writes it with `.sortedKeys` and
    /// `.withoutEscapingSlashes`, without its cost (errors and 401s are answered at gateway rates).
    static func flatJSON(_ object: [String: String]) -> String {
        var out = "{"
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            appendJSONString(key, to: &out)
            out += ":"
            appendJSONString(object[key] ?? "", to: &out)
        }
        return out + "}"
    }

    private static func appendJSONString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Raw bytes with a content type (well-known documents: byte for byte what the core built).
    static func bytes(_ data: Data, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An RFC 6749 §5.2 error object; 401 for `invalid_client` (with a Basic challenge when Basic was used).
    static func oauthError(_ error: OAuthError, basicChallenge: Bool = false) -> Response {
        var response = json(["error": error.code.rawValue, "error_description": error.errorDescription],
                            status: HTTPResponse.Status(code: error.httpStatus))
        if error.code == .invalidClient && basicChallenge {
            response.headers[.wwwAuthenticate] = "Basic realm=\"tollgate\""
        }
        if error.code == .temporarilyUnavailable {
            response.headers[.retryAfter] = String(error.retryAfter ?? 5)
        }
        return response
    }

    /// A 302 redirect.
    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .found, headers: headers)
    }

    /// An HTML page (consent, errors) that may not be framed.
    static func html(_ body: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' *; frame-ancestors 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// An error page for authorization errors that must not be redirected (bad client or redirect URI), with
    /// `Retry-After` when the error says when to try again.
    /// - Parameter returnTo: the client's redirect URI with the error, offered as a link the user may follow
    ///   (never followed automatically: the page names its host so the user can judge it).
    static func errorPage(_ error: OAuthError, status: HTTPResponse.Status = .badRequest, returnTo: String? = nil) -> Response {
        var headers: HTTPFields = [:]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        var back = "<p>Return to the application and try again.</p>"
        if let returnTo {
            let host = URLComponents(string: returnTo)?.host ?? URLComponents(string: returnTo)?.scheme ?? "the application"
            back = """
                <p>The application asked to be sent back to <strong>\(HTML.escape(host))</strong>. Follow this link only if you \
                started this sign-in from that application: <a href="\(HTML.escape(returnTo))" rel="noreferrer">return to \(HTML.escape(host))</a>.</p>
                """
        }
        return html(Page.document(title: "Authorization error", body: """
            <h1>Authorization error</h1>
            <p><code>\(HTML.escape(error.code.rawValue))</code>: \(HTML.escape(error.errorDescription))</p>
            \(back)
            """), status: status, headers: headers)
    }
}

/// HTML escaping for text placed in pages.
enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// The frame of every HTML page.
enum Page {
    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title)) · Tollgate</title>
        <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
        .card{border:1px solid #ccc;border-radius:8px;padding:1.5rem}ul{padding-left:1.2rem}
        button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}code{background:#f3f3f3;padding:0 .2rem}</style>
        </head><body>
        \(body)
        </body></html>
        """
    }
}
