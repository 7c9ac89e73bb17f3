import Crypto
import Foundation

/// Proxy refresh tokens that carry, under a MAC only Tollgate can make, the grant they belong to and when they
/// expire. Reuse detection (RFC 9700 §4.14.2) then needs no row per rotated token: a genuine, unexpired refresh
/// token of a live grant whose row is gone can only have been rotated (a live refresh token always has its row),
/// so presenting it again revokes the grant. Rotated rows are kept for the grace window only, and a grant holds a
/// small constant number of token rows however often it is refreshed.
///
/// Wire form: `tg_rt_` + base64url(`0x01` ‖ grant id (8 bytes) ‖ expiry in Unix seconds (8) ‖ entropy (24) ‖
/// tag (16)), the tag being the first 16 bytes of HMAC-SHA256 under a key derived from the master key over
/// everything before it. Tokens of the older, purely random form still work through their rows.
package enum RefreshTokenFamily {
    static let version: UInt8 = 1
    static let entropyBytes = 24
    static let tagBytes = 16
    static let bodyBytes = 1 + 8 + 8 + entropyBytes

    /// What a genuine token says about itself.
    package struct Claims: Sendable, Equatable {
        package var grantID: Int64
        package var expiresAt: Date
    }

    /// A refresh token of `grantID` expiring at `expiresAt` (whole seconds), its randomness from `entropy`
    /// (at least 24 bytes; the first 24 are used).
    package static func make(grantID: Int64, expiresAt: Date, entropy: Data, key: SymmetricKey) -> Secret {
        precondition(entropy.count >= entropyBytes, "refresh token entropy must be at least \(entropyBytes) bytes")
        var body = Data([version])
        body.append(bigEndian: UInt64(bitPattern: grantID))
        body.append(bigEndian: UInt64(max(0, expiresAt.timeIntervalSince1970.rounded(.down))))
        body.append(entropy.prefix(entropyBytes))
        return Secret(TokenGenerator.refreshPrefix + (body + tag(body, key: key)).base64URLEncodedString())
    }

    /// A new refresh token of `grantID` with fresh randomness.
    package static func random(grantID: Int64, expiresAt: Date, key: SymmetricKey) -> Secret {
        make(grantID: grantID, expiresAt: expiresAt, entropy: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }, key: key)
    }

    /// The successor of `presented` at rotation: deterministic, so a concurrent or repeated rotation of the same
    /// token within the grace window derives the very same token without any plaintext being stored.
    package static func successor(of presented: Secret, grantID: Int64, expiresAt: Date, key: SymmetricKey) -> Secret {
        let seed = HMAC<SHA256>.authenticationCode(for: Data("rotate-refresh|\(presented.value)".utf8), using: key)
        return make(grantID: grantID, expiresAt: expiresAt, entropy: Data(seed), key: key)
    }

    /// The claims of `value` when it is a refresh token of this form with a valid tag under `key`; `nil` for
    /// anything else (an older random token, another key's token, garbage).
    package static func claims(of value: String, key: SymmetricKey) -> Claims? {
        guard value.hasPrefix(TokenGenerator.refreshPrefix), value.utf8.count < 200,
              let data = Data(base64URLEncoded: String(value.dropFirst(TokenGenerator.refreshPrefix.count))),
              data.count == bodyBytes + tagBytes, data.first == version else { return nil }
        let body = data.prefix(bodyBytes)
        guard TokenGenerator.constantTimeEqual(tag(Data(body), key: key), Data(data.suffix(tagBytes))) else { return nil }
        let grant = Int64(bitPattern: body.readBigEndian(at: 1))
        let expiry = body.readBigEndian(at: 9)
        guard expiry < UInt64(Int64.max / 2) else { return nil }
        return Claims(grantID: grant, expiresAt: Date(timeIntervalSince1970: TimeInterval(expiry)))
    }

    /// The expiry a token can carry: `date` rounded down to a whole second (rows store the same value).
    package static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    static func tag(_ body: Data, key: SymmetricKey) -> Data {
        var input = Data("tollgate/refresh-family|".utf8)
        input.append(body)
        return Data(HMAC<SHA256>.authenticationCode(for: input, using: key)).prefix(tagBytes)
    }
}

extension Data {
    fileprivate mutating func append(bigEndian value: UInt64) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    fileprivate func readBigEndian(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in self[(startIndex + offset)..<(startIndex + offset + 8)] { value = value << 8 | UInt64(byte) }
        return value
    }
}
