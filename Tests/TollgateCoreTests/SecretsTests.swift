import Foundation
import GRDB
import Testing
import TollgateCore
import TollgateStores
import TollgateSQLite
import TollgateTestSupport

@Suite("secrets at rest")
struct SecretsTests {
    @Test func aCiphertextCopiedToAnotherGrantFailsToDecrypt() async throws {
        try await Harness.with { h in
            let (a, _) = try await h.makeGrant(subject: "alice")
            let (b, _) = try await h.makeGrant(subject: "bob")
            let queue = try DatabaseQueue(path: h.databasePath)
            try await queue.write { db in
                try db.execute(sql: "UPDATE grants SET upstream_access = (SELECT upstream_access FROM grants WHERE id = ?) WHERE id = ?", arguments: [a, b])
            }
            try queue.close()
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.refresher.credential(of: b) }
            await #expect(try h.tollgate.refresher.credential(of: a) != nil)
        }
    }

    /// A forwarded request opens only the upstream access token: the refresh token stays sealed (here it is
    /// made undecryptable, and validation does not notice) until a refresh needs it.
    @Test func validationNeverOpensTheUpstreamRefreshToken() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant(subject: "alice")
            let queue = try DatabaseQueue(path: h.databasePath)
            try await queue.write { db in
                try db.execute(sql: "UPDATE grants SET upstream_refresh = upstream_access WHERE id = ?", arguments: [grantID])
            }
            try queue.close()
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.refresher.credential(of: grantID) }
            let validated = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            guard case .fresh(let access) = validated.upstream else { Issue.record("expected a fresh upstream token"); return }
            #expect(try await h.tollgate.tokens.upstreamAccessToken(for: validated) == access.token)
        }
    }

    @Test func aCiphertextMovedToAnotherFieldFailsToDecrypt() throws {
        let key = SymmetricKeyFactory.make()
        let box = SecretBox(keys: [1: key], activeKeyID: 1)
        let sealed = try box.seal("upstream-token", for: .upstreamAccess(1))
        #expect(try box.openString(sealed, for: .upstreamAccess(1)) == "upstream-token")
        #expect(throws: TollgateError.self) { _ = try box.open(sealed, for: .upstreamRefresh(1)) }
        #expect(throws: TollgateError.self) { _ = try box.open(sealed, for: .upstreamAccess(2)) }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: TollgateError.self) { _ = try box.open(tampered, for: .upstreamAccess(1)) }
        #expect(throws: TollgateError.self) { _ = try box.open(Data([1, 2, 3]), for: .upstreamAccess(1)) }
    }

    @Test func afterKeyRotationEveryGrantStillValidatesAndRefreshes() async throws {
        try await Harness.with { h in
            var grants: [(Int64, TokenPair)] = []
            for name in ["alice", "bob", "carol"] { grants.append(try await h.makeGrant(subject: name)) }
            let oldKey = h.tollgate.vault.activeKeyID
            let rotation = try await h.tollgate.admin.rotateKeys()
            #expect(rotation.keyID == oldKey + 1)
            #expect(rotation.resealed >= 7) // 3 grants × 2 tokens + the provider secret
            // A fresh process (new vault) reads everything with the new key.
            let reopened = try await Tollgate.open(.sqlite(path: h.databasePath), clock: h.clock, environment: [:])
            for (grantID, pair) in grants {
                _ = try await reopened.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
                #expect(try await reopened.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
                _ = try await reopened.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: pair.refreshToken.value, scope: nil)
            }
            await reopened.shutdown()
            // The original instance picks up the new key on its own.
            await #expect(try h.tollgate.refresher.credential(of: grants[0].0) != nil)
        }
    }

    /// Another instance that sealed values with the old key after a rotation (it had not heard of it: it opened no
    /// value sealed by the new key) moves them to the new key when it follows the rotation (`serve` checks every 10 s).
    @Test func anInstanceThatMissedARotationResealsWhatItSealedMeanwhile() async throws {
        try await Harness.with { h in
            let other = try await Tollgate.open(.sqlite(path: h.databasePath), clock: h.clock, environment: [:])
            let oldKey = other.vault.activeKeyID
            let rotation = try await h.tollgate.admin.rotateKeys()
            // The other instance finishes an authorization before it knows of the new key: the upstream tokens go under the old one.
            let now = h.clock.now()
            let pending = PendingAuthorization(stateHash: Data(), serverID: h.server.id, clientID: h.client.client.id,
                                               redirectURI: "http://127.0.0.1:1/cb", clientState: nil, codeChallenge: "x", scopes: [],
                                               resource: "http://127.0.0.1:8080/mcp/files", sealedUpstreamVerifier: Data(), createdAt: now,
                                               expiresAt: now.addingTimeInterval(600))
            let grantID = try await other.tokens.completeAuthorization(
                pending, server: h.server, upstreamTokens: UpstreamTokenResponse(accessToken: Secret("upstream-access"),
                                                                                 refreshToken: Secret("upstream-refresh"), expiresIn: 3600),
                subject: "bob").grantID
            func keyIDs() async throws -> [UInt32?] {
                let sealed = try #require(try await h.tollgate.store.sealedCredential(grantID: grantID))
                return [SecretBox.keyID(of: sealed.accessToken), sealed.refreshToken.flatMap { SecretBox.keyID(of: $0) }]
            }
            #expect(try await keyIDs() == [oldKey, oldKey])
            #expect(try await other.vault.followRotation() == 2)
            #expect(other.vault.activeKeyID == rotation.keyID)
            #expect(try await keyIDs() == [rotation.keyID, rotation.keyID])
            #expect(try await other.vault.followRotation() == 0, "nothing changed since: no second pass")
            // Both instances still read it.
            #expect(try await h.tollgate.refresher.credential(of: grantID)?.accessToken.value == "upstream-access")
            #expect(try await other.refresher.credential(of: grantID)?.refreshToken?.value == "upstream-refresh")
            await other.shutdown()
        }
    }

    @Test func theDatabaseFileHoldsNoTokenOrSecretInTheClear() async throws {
        let secret = "upstream-client-secret-0123456789"
        try await Harness.with(upstreamClient: .init(clientID: "tollgate-dev", clientSecret: secret, authMethod: .clientSecretBasic),
                               confidentialClient: true) { h in
            var needles: [String] = [secret, try #require(h.client.secret?.value)]
            for name in ["alice", "bob"] {
                let (grantID, pair) = try await h.makeGrant(subject: name)
                let refreshed = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: pair.refreshToken.value, scope: nil)
                _ = try await h.tollgate.admin.forceRefresh(grantID: grantID)
                let upstream = try await #require(try h.tollgate.refresher.credential(of: grantID))
                needles += [pair.accessToken.value, pair.refreshToken.value, refreshed.accessToken.value, refreshed.refreshToken.value,
                            upstream.accessToken.value, try #require(upstream.refreshToken?.value)]
            }
            var bytes = Data()
            for suffix in ["", "-wal", "-shm"] {
                if let d = FileManager.default.contents(atPath: h.databasePath + suffix) { bytes.append(d) }
            }
            #expect(bytes.count > 0)
            for needle in needles {
                #expect(bytes.range(of: Data(needle.utf8)) == nil, "found a secret in the database bytes")
                // Not even the random part without its prefix.
                let core = needle.split(separator: "_").last.map(String.init) ?? needle
                if core.count >= 16 { #expect(bytes.range(of: Data(core.utf8)) == nil) }
            }
        }
    }

    @Test func theDatabaseAndKeyFilesAreCreatedOwnerOnly() async throws {
        try await Harness.with { h in
            for path in [h.databasePath, MasterKey.keyFilePath(forDatabaseAt: h.databasePath)] {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
                #expect(mode & 0o077 == 0, "\(path) is mode \(String(mode, radix: 8))")
            }
        }
    }

    @Test func aWrongMasterKeyIsAClearError() async throws {
        try await Harness.with { h in
            let wrong = Data(repeating: 7, count: 32).base64EncodedString()
            await #expect {
                _ = try await Tollgate.open(.sqlite(path: h.databasePath), environment: ["TOLLGATE_MASTER_KEY": wrong])
            } throws: { error in
                (error as? TollgateError)?.code == .crypto && "\(error)".contains("master key")
            }
            await #expect(throws: TollgateError.self) {
                _ = try await Tollgate.open(.sqlite(path: h.databasePath), environment: ["TOLLGATE_MASTER_KEY": "not base64!"])
            }
        }
    }
}

import Crypto
enum SymmetricKeyFactory {
    static func make() -> SymmetricKey { SymmetricKey(size: .bits256) }
}
