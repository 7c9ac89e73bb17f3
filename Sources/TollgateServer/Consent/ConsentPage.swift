import Foundation
import TollgateCore

/// The consent page: names the client, its redirect URI host and the scopes, and posts back a plain
/// HTML form (so a test harness can approve it headlessly).
enum ConsentPage {
    /// - Parameter previouslyApproved: the scopes a remembered approval of this client covers, if there is one
    ///   (it did not cover this request): the page then asks only for the scopes beyond it, marked new, and lists
    ///   the approved ones as already granted (a step-up re-authorization keeps them).
    static func render(_ v: ValidatedAuthorization, transaction: String, csrf: String, action: String,
                       previouslyApproved: Set<String>? = nil) -> String {
        let host = URLComponents(string: v.redirectURI)?.host ?? v.redirectURI
        let asked = previouslyApproved.map { approved in v.scopes.filter { !approved.contains($0) } } ?? v.scopes
        let scopes = asked.isEmpty ? "<li>basic access</li>" : asked.map { scope in
            "<li><code>\(HTML.escape(scope))</code>\(previouslyApproved == nil ? "" : " <strong class=\"new-scope\">(new)</strong>")</li>"
        }.joined()
        let newAccess = previouslyApproved.map { approved in
            let granted = v.scopes.filter { approved.contains($0) }
            return """
                <p>You approved this application before; it now asks for more access. The scopes marked <strong>(new)</strong> were not part of that approval.</p>
                """ + (granted.isEmpty ? "" : """
                <p>Already granted (kept):</p>
                <ul class="granted-scopes">\(granted.map { "<li><code>\(HTML.escape($0))</code></li>" }.joined())</ul>
                """)
        } ?? ""
        let identity = v.client.metadataDocument.map { document in
            "<p class=\"client-identity\">This application is identified by a document at <strong>\(HTML.escape(document.host))</strong>.</p>"
        } ?? ""
        let impersonationWarning = v.client.metadataDocument != nil && v.client.redirectURIs.allSatisfy(isLoopback) ? """
            <p class="warning"><strong>Warning:</strong> this application sends you back only to this computer (localhost). \
            Anyone can publish a document naming such an address, so the name above proves nothing about who made the \
            application: approve only if you started this sign-in from an application you trust on this computer.</p>
            """ : ""
        return Page.document(title: "Authorize \(v.client.name)", body: """
            <div class="card">
            <h1>Authorize <em>\(HTML.escape(v.client.name))</em>?</h1>
            <p><strong>\(HTML.escape(v.client.name))</strong> wants to use <strong>\(HTML.escape(v.server.name))</strong> on your behalf.
            After you approve, you sign in at the provider and are sent back to <strong>\(HTML.escape(host))</strong>.</p>
            \(identity)\(impersonationWarning)\(newAccess)<p>\(previouslyApproved == nil ? "Requested access" : "New access requested"):</p>
            <ul>\(scopes)</ul>
            <form method="post" action="\(HTML.escape(action))">
            <input type="hidden" name="transaction" value="\(HTML.escape(transaction))">
            <input type="hidden" name="csrf_token" value="\(HTML.escape(csrf))">
            <button type="submit" name="decision" value="approve">Approve</button>
            <button type="submit" name="decision" value="deny">Deny</button>
            </form>
            <p><small>Client id <code>\(HTML.escape(v.client.publicID))</code></small></p>
            </div>
            """)
    }

    /// Whether a redirect URI goes to this computer: loopback `http`, or any scheme whose host is a loopback name
    /// or address (`localhost`, `127.x`, `[::1]`).
    static func isLoopback(_ uri: String) -> Bool {
        guard let host = URLComponents(string: uri)?.host?.lowercased() else { return false }
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        return NetworkAddressClass.classify(host) == .loopback
    }
}
