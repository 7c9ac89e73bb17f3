import Foundation
import Logging
import TollgateCore

/// The background task of `serve` that deletes dynamically registered clients never used within `ttl`
/// (no grant, no pending authorization), in small batches so no write holds the store for long.
/// Admin-registered clients and clients that were ever used are kept.
public struct UnusedClientSweeper: Sendable {
    let tokens: TokenService
    /// How old an unused dynamic registration must be to go.
    public var ttl: TimeInterval
    /// Time between sweeps.
    public var interval: Duration = .seconds(600)
    /// Clients deleted per write transaction.
    public var batchSize = 100
    /// The most batches one sweep runs (the next sweep continues).
    public var maxBatchesPerSweep = 500
    /// Pause between two batches of one sweep, so requests get the store in between.
    public var pauseBetweenBatches: Duration = .milliseconds(20)
    let logger: Logger

    public init(tokens: TokenService, ttl: TimeInterval, logger: Logger) {
        self.tokens = tokens
        self.ttl = ttl
        self.logger = logger
    }

    /// One sweep: batches until one comes back short; returns how many clients were deleted.
    @discardableResult
    public func sweep() async -> Int {
        var total = 0
        for _ in 0..<maxBatchesPerSweep {
            let removed: Int
            do {
                removed = try await tokens.expireUnusedClients(olderThan: ttl, batchSize: batchSize)
            } catch {
                logger.warning("expiring unused client registrations failed", metadata: ["error": "\(error)"])
                break
            }
            total += removed
            guard removed == batchSize, !Task.isCancelled else { break }
            try? await Task.sleep(for: pauseBetweenBatches)
        }
        if total > 0 { logger.info("expired unused client registrations", metadata: ["count": "\(total)"]) }
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
