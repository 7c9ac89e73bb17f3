import Foundation
import Logging
import TollgateCore

/// A background task of `serve` that deletes what is no longer needed in small batches, so no write holds the
/// store for long: unused dynamic client registrations, and (retention) expired tokens, codes, pending
/// authorizations and old audit events.
public struct BackgroundSweeper: Sendable {
    /// What the sweeper is for, in log lines.
    public var name: String
    /// Time between sweeps.
    public var interval: Duration = .seconds(600)
    /// Rows one batch may delete (one short transaction per kind).
    public var batchSize = 100
    /// The most batches one sweep runs (the next sweep continues).
    public var maxBatchesPerSweep = 500
    /// Pause between two batches of one sweep, so requests get the store in between.
    public var pauseBetweenBatches: Duration = .milliseconds(20)
    /// One batch: deletes at most `batchSize` rows of each kind; says how many went and whether more may be left.
    let batch: @Sendable (_ batchSize: Int) async throws -> (deleted: Int, more: Bool)
    let logger: Logger

    public init(name: String, logger: Logger, batch: @escaping @Sendable (_ batchSize: Int) async throws -> (deleted: Int, more: Bool)) {
        self.name = name
        self.logger = logger
        self.batch = batch
    }

    /// Deletes dynamically registered and metadata-document clients never used within `ttl` (no grant, no pending
    /// authorization). Admin-registered clients, revoked metadata-document clients and clients that were ever used are kept.
    public static func unusedClients(_ tokens: TokenService, ttl: TimeInterval, logger: Logger) -> BackgroundSweeper {
        BackgroundSweeper(name: "unused client registrations", logger: logger) { size in
            let removed = try await tokens.expireUnusedClients(olderThan: ttl, batchSize: size)
            return (removed, removed == size)
        }
    }

    /// Purges what the retention policy lets go (``AdminService/purgeBatch(auditRetention:limit:dryRun:)``).
    public static func retention(_ admin: AdminService, auditRetention: TimeInterval, logger: Logger) -> BackgroundSweeper {
        BackgroundSweeper(name: "retention", logger: logger) { size in
            let counts = try await admin.purgeBatch(auditRetention: auditRetention, limit: size, dryRun: false)
            return (counts.total, counts.largestKind == size)
        }
    }

    /// Follows a `keys rotate` run by another process (``Vault/followRotation()``), checked every 10 seconds: one
    /// read of the key ring, and a re-seal pass only after a rotation.
    public static func keyRotation(_ vault: Vault, logger: Logger) -> BackgroundSweeper {
        var sweeper = BackgroundSweeper(name: "key rotation", logger: logger) { _ in (try await vault.followRotation(), false) }
        sweeper.interval = .seconds(10)
        sweeper.outcome = "re-sealed values under the new key"
        return sweeper
    }

    /// What the rows a sweep counts underwent, in its log line.
    public var outcome = "deleted rows"

    /// One sweep: batches until one comes back short; returns how many rows were deleted.
    @discardableResult
    public func sweep() async -> Int {
        var total = 0
        for _ in 0..<maxBatchesPerSweep {
            let result: (deleted: Int, more: Bool)
            do {
                result = try await batch(batchSize)
            } catch {
                logger.warning("background sweep failed", metadata: ["sweep": "\(name)", "error": "\(error)"])
                break
            }
            total += result.deleted
            guard result.more, !Task.isCancelled else { break }
            try? await Task.sleep(for: pauseBetweenBatches)
        }
        if total > 0 { logger.info("background sweep \(outcome)", metadata: ["sweep": "\(name)", "count": "\(total)"]) }
        return total
    }

    /// Sweeps now and then every `interval` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await sweep()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
