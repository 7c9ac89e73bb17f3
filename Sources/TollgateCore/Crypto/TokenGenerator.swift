@preconcurrency import Crypto
import Foundation

/// Makes and hashes opaque proxy tokens: 256 random bits, base64url, with a readable prefix.
public enum TokenGenerator {
    public static let accessPrefix = "tg_at_"
    public static let refreshPrefix = "tg_rt_"
    public static let codePrefix = "tg_code_"
    public static let clientSecretPrefix = "tg_cs_"
    public static let statePrefix = "tg_st_"

    /// A fresh random token with `prefix`.
    public static func make(prefix: String) -> Secret {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return Secret(prefix + bytes.base64URLEncodedString())
    }

    /// A token derived deterministically from `seed` under `key`: the same seed gives the same token.
    ///
    /// Refresh rotation uses this, so a rotated refresh token presented again within the grace window
    /// yields the very same pair without any plaintext token being stored.
    public static func derive(prefix: String, from seed: Secret, purpose: String, key: SymmetricKey) -> Secret {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(purpose)|\(seed.value)".utf8), using: key)
        return Secret(prefix + Data(mac).base64URLEncodedString())
    }

    /// The SHA-256 of a token, the only form in which it is stored.
    public static func hash(_ token: Secret) -> Data { hash(token.value) }

    /// The SHA-256 of a token string.
    public static func hash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// Constant-time equality of two byte strings.
    public static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }

    /// The PKCE S256 challenge of a verifier (RFC 7636 §4.2).
    public static func s256Challenge(of verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64URLEncodedString()
    }

    /// Whether `verifier` is a syntactically valid PKCE verifier (43–128 unreserved characters).
    public static func isValidVerifier(_ verifier: String) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".unicodeScalars)
        return (43...128).contains(verifier.count) && verifier.unicodeScalars.allSatisfy { allowed.contains($0) }
    }
}
