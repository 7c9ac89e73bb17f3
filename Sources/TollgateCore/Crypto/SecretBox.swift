@preconcurrency import Crypto
import Foundation

/// AES-256-GCM sealing of stored secrets (upstream tokens, provider client secrets, PKCE verifiers).
///
/// A sealed value is `0x01 | key id (4 bytes, big endian) | nonce | ciphertext | tag`. The associated data
/// binds the key id and the ``SealContext``; opening with any other context fails.
public struct SecretBox: Sendable {
    /// The data-encryption keys by id; the newest seals.
    public let keys: [UInt32: SymmetricKey]
    /// The id of the key that seals new values.
    public let activeKeyID: UInt32

    private static let formatVersion: UInt8 = 1

    public init(keys: [UInt32: SymmetricKey], activeKeyID: UInt32) {
        precondition(keys[activeKeyID] != nil, "active key must be in the key ring")
        self.keys = keys
        self.activeKeyID = activeKeyID
    }

    /// Seals `plaintext` for `context` with the active key.
    public func seal(_ plaintext: String, for context: SealContext) throws -> Data {
        try seal(Data(plaintext.utf8), for: context)
    }

    /// Seals bytes for `context` with the active key.
    public func seal(_ plaintext: Data, for context: SealContext) throws -> Data {
        let key = keys[activeKeyID]!
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Self.associatedData(activeKeyID, context))
        var out = Data([Self.formatVersion])
        out.append(contentsOf: withUnsafeBytes(of: activeKeyID.bigEndian) { Array($0) })
        out.append(box.combined!)
        return out
    }

    /// Opens a value sealed for `context`; throws a ``TollgateError`` with code `.crypto` otherwise.
    public func open(_ sealed: Data, for context: SealContext) throws -> Data {
        guard sealed.count > 5 + 12 + 16, sealed.first == Self.formatVersion else {
            throw TollgateError(.crypto, "the sealed value of \(context) is malformed")
        }
        let keyID = Self.keyID(of: sealed)!
        guard let key = keys[keyID] else {
            throw TollgateError(.crypto, "the key \(keyID) that sealed \(context) is not in the key ring")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(5))
            return try AES.GCM.open(box, using: key, authenticating: Self.associatedData(keyID, context))
        } catch {
            throw TollgateError(.crypto, "the sealed value of \(context) does not open (moved, altered, or another key)")
        }
    }

    /// Opens a sealed UTF-8 string.
    public func openString(_ sealed: Data, for context: SealContext) throws -> String {
        guard let s = String(data: try open(sealed, for: context), encoding: .utf8) else {
            throw TollgateError(.crypto, "the sealed value of \(context) is not text")
        }
        return s
    }

    /// The id of the key that sealed `sealed`, if it is well formed.
    public static func keyID(of sealed: Data) -> UInt32? {
        guard sealed.count > 5 else { return nil }
        let start = sealed.startIndex
        return sealed[(start + 1)..<(start + 5)].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
    }

    private static func associatedData(_ keyID: UInt32, _ context: SealContext) -> Data {
        Data("tollgate/v1|\(keyID)|\(context.table)|\(context.row)|\(context.field)".utf8)
    }
}
