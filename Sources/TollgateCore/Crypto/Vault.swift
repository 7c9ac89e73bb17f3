@preconcurrency import Crypto
import Foundation
import Synchronization

/// The key ring of one store: unwraps its data keys with the master key, seals and opens secrets,
/// and rotates keys without logging anybody out.
public final class Vault: Sendable {
    private let store: any TollgateStore
    private let master: MasterKey
    private let box: Mutex<SecretBox>
    /// The key under which rotated refresh-token pairs are derived (see ``TokenGenerator/derive(prefix:from:purpose:key:)``).
    public let derivationKey: SymmetricKey

    /// Loads the data keys of `store`, creating the first one on first use.
    public init(store: any TollgateStore, master: MasterKey, clock: any TollgateClock = SystemClock()) async throws {
        self.store = store
        self.master = master
        derivationKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, info: Data("tollgate/rotation-derivation".utf8), outputByteCount: 32)
        if try await store.encryptionKeys().isEmpty {
            let key = SymmetricKey(size: .bits256)
            do {
                try await store.addEncryptionKey(id: 1, wrapped: try master.wrap(key, id: 1), audit: nil, at: clock.now())
            } catch let error as TollgateError where error.code == .conflict {
                // Another process created the first key at the same moment; use theirs.
            }
        }
        box = Mutex(try await Self.loadBox(store: store, master: master))
    }

    private static func loadBox(store: any TollgateStore, master: MasterKey) async throws -> SecretBox {
        let stored = try await store.encryptionKeys()
        guard let newest = stored.last else { throw TollgateError(.crypto, "the database has no encryption key") }
        var keys: [UInt32: SymmetricKey] = [:]
        for k in stored { keys[k.id] = try master.unwrap(k.wrapped, id: k.id) }
        return SecretBox(keys: keys, activeKeyID: newest.id)
    }

    /// A key derived from the master key for `purpose` (for example signing consent cookies). Stable across
    /// restarts and processes sharing the master key; independent of data-key rotation.
    public func derivedKey(purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, info: Data("tollgate/\(purpose)".utf8), outputByteCount: 32)
    }

    /// The id of the key that seals new values.
    public var activeKeyID: UInt32 { box.withLock { $0.activeKeyID } }

    /// Seals `plaintext` for `context` with the active key.
    public func seal(_ plaintext: String, for context: SealContext) throws -> Data {
        let current = box.withLock { $0 }
        return try current.seal(plaintext, for: context)
    }

    /// Opens a sealed string; reloads the key ring once when it was sealed by a key added since
    /// (a `keys rotate` run by another process).
    public func open(_ sealed: Data, for context: SealContext) async throws -> String {
        let current = box.withLock { $0 }
        if let id = SecretBox.keyID(of: sealed), current.keys[id] == nil {
            return try await reload().openString(sealed, for: context)
        }
        return try current.openString(sealed, for: context)
    }

    /// Re-reads the key ring from the store: keys added since (by a `keys rotate` in another process) become
    /// known, and the newest becomes the one that seals.
    @discardableResult
    public func reload() async throws -> SecretBox {
        let reloaded = try await Self.loadBox(store: store, master: master)
        box.withLock { $0 = reloaded }
        return reloaded
    }

    /// The client secret of `provider`, opened; `nil` when it has none.
    public func openProviderSecret(of provider: Provider, in store: any TollgateStore) async throws -> Secret? {
        guard provider.hasClientSecret else { return nil }
        return try await openProviderSecret(try await store.sealedProviderSecret(providerID: provider.id), of: provider)
    }

    /// The client secret of `provider` from its sealed form, already read (``RefreshLeaseAcquisition``); `nil`
    /// when it has none.
    public func openProviderSecret(_ sealed: Data?, of provider: Provider) async throws -> Secret? {
        guard provider.hasClientSecret, let sealed else { return nil }
        return Secret(try await open(sealed, for: .providerSecret(provider.id)))
    }

    /// How many values one re-seal transaction replaces: small, so serving goes on between batches.
    public static let resealBatchSize = 200

    /// Adds a new data key (making it active, with `audit` in the same transaction) and re-seals every stored
    /// secret with it, batch by batch (``resealBatchSize`` values per short transaction). Old keys stay: values
    /// not yet re-sealed, or sealed meanwhile by processes that have not reloaded, still open. Nobody is logged
    /// out. Returns the new key id and the number of values re-sealed.
    public func rotate(at now: Date, audit: (UInt32) -> NewAuditEvent) async throws -> (keyID: UInt32, resealed: Int) {
        let stored = try await store.encryptionKeys()
        let newID = (stored.map(\.id).max() ?? 0) + 1
        let key = SymmetricKey(size: .bits256)
        try await store.addEncryptionKey(id: newID, wrapped: try master.wrap(key, id: newID), audit: audit(newID), at: now)
        return (newID, try await resealAll(with: try await reload()))
    }

    /// Follows a `keys rotate` run by another process: reloads the key ring and, when its active key changed since
    /// this process last loaded it, re-seals every value still sealed by an older key — those this process sealed
    /// before it knew of the new key included, which the rotating process's pass may have missed. Returns how many
    /// values it re-sealed (0 when nothing changed). `serve` calls it every few seconds, so every instance's writes
    /// move to the new key soon after a rotation, and what was sealed meanwhile does not stay under the old one.
    public func followRotation() async throws -> Int {
        let before = activeKeyID
        let reloaded = try await reload()
        guard reloaded.activeKeyID != before else { return 0 }
        return try await resealAll(with: reloaded)
    }

    /// Re-seals with `ring`'s active key every stored value sealed by another key, batch by batch (compare-and-set
    /// per value, so concurrent passes and concurrent writers never lose a value).
    private func resealAll(with ring: SecretBox) async throws -> Int {
        var count = 0
        var cursor: ResealCursor?
        repeat {
            let batch = try await store.resealBatch(after: cursor, limit: Self.resealBatchSize) { sealed, context in
                guard SecretBox.keyID(of: sealed) != ring.activeKeyID else { return nil }
                let plain = try ring.open(sealed, for: context)
                return try ring.seal(plain, for: context)
            }
            count += batch.resealed
            cursor = batch.next
        } while cursor != nil
        return count
    }
}
