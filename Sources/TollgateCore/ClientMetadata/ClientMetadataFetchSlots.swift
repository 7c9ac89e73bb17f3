import Synchronization

/// At most ``limit`` fetches of client ID metadata documents in flight at once, whoever asked: beyond, a fetch is
/// refused at once instead of waiting in a queue that a flood of `client_id` URLs could grow without bound.
final class ClientMetadataFetchSlots: Sendable {
    /// Fetches in flight at most (default ``defaultLimit``).
    let limit: Int
    private let inUse = Mutex(0)

    /// The default cap on fetches in flight.
    static let defaultLimit = 8

    init(limit: Int = defaultLimit) {
        self.limit = max(1, limit)
    }

    /// Takes a slot, or says there is none free.
    func acquire() -> Bool {
        let limit = limit
        return inUse.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Gives back a slot that ``acquire()`` took.
    func release() {
        inUse.withLock { $0 = max(0, $0 - 1) }
    }
}
