@preconcurrency import Crypto
import Foundation
import TollgateCore

/// Signs what the consent page hands to the browser: the pending transaction, its CSRF token and the
/// cookie that remembers approved clients. Keys derive from the master key, so every `serve` process
/// sharing the store accepts what another signed, and a restart loses nothing.
struct ConsentSigner: Sendable {
    let key: SymmetricKey

    init(vault: Vault) {
        key = vault.derivedKey(purpose: "consent-signing")
    }

    func mac(_ message: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)).base64URLEncodedString()
    }

    func verify(_ message: String, mac given: String) -> Bool {
        TokenGenerator.constantTimeEqual(Data(mac(message).utf8), Data(given.utf8))
    }

    /// `payload.mac`, with the payload base64url-encoded JSON.
    func seal(_ object: [String: String]) -> String {
        let json = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        let payload = json.base64URLEncodedString()
        return payload + "." + mac(payload)
    }

    /// The object of a sealed value whose MAC verifies; `nil` otherwise.
    func unseal(_ sealed: String) -> [String: String]? {
        let parts = sealed.split(separator: ".")
        guard parts.count == 2, verify(String(parts[0]), mac: String(parts[1])),
              let data = Data(base64URLEncoded: String(parts[0])),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return nil }
        return object
    }

    /// The CSRF token of a consent transaction in one browser: stable for the transaction, bound to the
    /// browser's consent cookie, so a page fetched by someone else cannot be submitted from this browser.
    func csrfToken(transaction: String, browser: String) -> String {
        mac("csrf|\(browser)|\(transaction)")
    }
}

/// Client approvals remembered in a signed cookie, per server: for each client, the scopes the user
/// approved and until when. The consent shortcut applies only to a request for a subset of those scopes.
struct RememberedApprovals {
    /// One remembered approval.
    struct Approval: Equatable {
        /// Seconds since 1970.
        var expiry: Int
        var scopes: Set<String>
    }

    /// client id → approval.
    var approvals: [String: Approval]

    /// Marks the value format (`2|expiry|scopes`): a value of the first format (a bare expiry, which named
    /// no scopes) does not parse, so an old cookie simply remembers nothing.
    private static let format = "2"

    init(cookie: String?, signer: ConsentSigner, now: Date) {
        var result: [String: Approval] = [:]
        if let cookie, let object = signer.unseal(cookie) {
            let nowSeconds = Int(now.timeIntervalSince1970)
            for (client, value) in object {
                let parts = value.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3, parts[0] == Self.format, let expiry = Int(parts[1]), expiry > nowSeconds else { continue }
                result[client] = Approval(expiry: expiry, scopes: Set(parts[2].split(separator: " ").map(String.init)))
            }
        }
        approvals = result
    }

    /// Whether the user approved `clientID` for all of `scopes` (and the approval has not expired).
    func covers(_ clientID: String, scopes: [String]) -> Bool {
        guard let approval = approvals[clientID] else { return false }
        return Set(scopes).isSubset(of: approval.scopes)
    }

    /// The scopes remembered as approved for `clientID`, if any approval is.
    func approvedScopes(of clientID: String) -> Set<String>? { approvals[clientID]?.scopes }

    /// `v` asking also for the scopes this browser approved for its client before: a re-authorization (a step-up
    /// after 403 `insufficient_scope`) keeps what was granted, so the grant it extends, and the upstream request,
    /// cover the union.
    func keepingApproved(_ v: ValidatedAuthorization) -> ValidatedAuthorization {
        guard let approved = approvedScopes(of: v.client.id) else { return v }
        var extended = v
        extended.scopes = GrantScopes.union(v.scopes, approved.sorted())
        return extended
    }

    /// Remembers that the user approved `clientID` for exactly `scopes`, replacing what was remembered for it.
    mutating func approve(_ clientID: String, scopes: [String], until: Date) {
        approvals[clientID] = Approval(expiry: Int(until.timeIntervalSince1970), scopes: Set(scopes))
        if approvals.count > 20 {
            for (k, _) in approvals.sorted(by: { $0.value.expiry < $1.value.expiry }).prefix(approvals.count - 20) { approvals.removeValue(forKey: k) }
        }
    }

    func cookieValue(signer: ConsentSigner) -> String {
        signer.seal(approvals.mapValues { "\(Self.format)|\($0.expiry)|\($0.scopes.sorted().joined(separator: " "))" })
    }
}
