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

/// Client approvals remembered in a signed cookie, per server.
struct RememberedApprovals {
    /// client id → expiry (seconds since 1970).
    var approvals: [String: Int]

    static func cookieName(_ slug: String) -> String { "tg_approved_\(slug)" }

    init(cookie: String?, signer: ConsentSigner, now: Date) {
        var result: [String: Int] = [:]
        if let cookie, let object = signer.unseal(cookie) {
            let nowSeconds = Int(now.timeIntervalSince1970)
            for (client, expiry) in object { if let e = Int(expiry), e > nowSeconds { result[client] = e } }
        }
        approvals = result
    }

    func contains(_ clientID: String) -> Bool { approvals[clientID] != nil }

    mutating func approve(_ clientID: String, until: Date) {
        approvals[clientID] = Int(until.timeIntervalSince1970)
        if approvals.count > 20 {
            for (k, _) in approvals.sorted(by: { $0.value < $1.value }).prefix(approvals.count - 20) { approvals.removeValue(forKey: k) }
        }
    }

    func cookieValue(signer: ConsentSigner) -> String {
        signer.seal(approvals.mapValues(String.init))
    }
}
