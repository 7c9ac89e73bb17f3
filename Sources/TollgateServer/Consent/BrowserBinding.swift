import Foundation
import HTTPTypes
import Hummingbird
import TollgateCore

/// The cookies of the consent flow: their names and attributes.
///
/// Over HTTPS every name carries the `__Host-` prefix, so the browser accepts them only with `Secure`,
/// `Path=/` and no `Domain`: no sibling host and no plain-http page can set or shadow them (which would let
/// an attacker plant their own browser binding in a victim's browser). Over plain http (tests, local use)
/// the names are unprefixed and the approvals cookie keeps its narrower path.
struct ConsentCookies: Sendable {
    /// Whether the public URL is HTTPS.
    let secure: Bool

    init(publicBase: String) {
        secure = publicBase.lowercased().hasPrefix("https://")
    }

    private var prefix: String { secure ? "__Host-" : "" }

    /// The browser id the consent form's CSRF token is bound to.
    var browserName: String { prefix + "tg_browser" }

    /// The browser binding of authorizations in progress (see ``BrowserBinding``).
    var bindingName: String { prefix + "tg_binding" }

    /// The remembered approvals of one server; the slug is in the name because `__Host-` cookies all live at `/`.
    func approvalsName(slug: String) -> String { prefix + "tg_approved_\(slug)" }

    /// `/` over HTTPS (required by `__Host-`), else the server's OAuth path.
    func approvalsPath(slug: String) -> String { secure ? "/" : "/oauth/\(slug)" }

    /// A `Set-Cookie` value: HttpOnly, `SameSite=Lax` (sent on the top-level redirect back from the
    /// upstream), `Secure` over HTTPS, never a `Domain`.
    func setCookie(_ name: String, _ value: String, maxAge: Int?, path: String = "/") -> String {
        var cookie = "\(name)=\(value); Path=\(path); HttpOnly; SameSite=Lax"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if secure { cookie += "; Secure" }
        return cookie
    }
}

/// Binds an authorization in progress to the browser that approved it (the MCP "confused deputy" defence).
///
/// Each browser carries a random value in a cookie; starting an authorization (the consent approval, or
/// the remembered-approval shortcut) records its SHA-256 with the upstream `state`, and the callback
/// completes only when the same browser presents it. An upstream authorization link approved in one
/// browser and opened in another (sent to a victim signed in at the upstream) is refused with a page:
/// the upstream code is never exchanged and the flow of the approving browser is left intact.
struct BrowserBinding {
    /// The cookie's value (256-bit random).
    let value: Secret
    /// Whether the browser did not present one (or an unusable one) and the value was just made.
    let isNew: Bool

    /// The binding the request's browser presents, if it looks like one.
    static func presented(in request: Request, cookies: ConsentCookies) -> Secret? {
        guard let value = request.cookies[cookies.bindingName]?.value, (32...128).contains(value.count) else { return nil }
        return Secret(value)
    }

    /// The browser's binding, made anew when it has none (one per browser, so flows in two tabs coexist).
    static func ofBrowser(_ request: Request, cookies: ConsentCookies) -> BrowserBinding {
        if let value = presented(in: request, cookies: cookies) { return BrowserBinding(value: value, isNew: false) }
        return BrowserBinding(value: TokenGenerator.make(prefix: ""), isNew: true)
    }

    /// The `Set-Cookie` value carrying the binding (a session cookie, renewed with every authorization).
    func setCookie(_ cookies: ConsentCookies) -> String {
        cookies.setCookie(cookies.bindingName, value.value, maxAge: nil)
    }

    /// The page for a callback in another browser: what happened and what to do, never a redirect.
    static func anotherBrowserPage() -> Response {
        Responses.html(Page.document(title: "Sign-in not completed", body: """
            <div class="card">
            <h1>Sign-in not completed</h1>
            <p>This sign-in link was opened in a different browser than the one that approved the access
            (or this browser's cookies were cleared or blocked). To protect your account, nothing was sent to
            the application and your sign-in at the provider was not used.</p>
            <p>If you started this sign-in yourself, return to the application and start again from there, in this browser.
            If someone sent you this link, close this page.</p>
            </div>
            """), status: .forbidden)
    }
}

extension HTTPFields {
    /// Adds one `Set-Cookie` field (several may be sent; assigning the subscript would replace them).
    mutating func appendCookie(_ setCookie: String) {
        append(HTTPField(name: .setCookie, value: setCookie))
    }
}
