import Synchronization
import TollgateCore

/// What the handlers of one request tell the access log about it: whose request it was (grant, client)
/// and, when refused, why. Shared by reference through ``TollgateRequestContext`` (the context itself is
/// passed by value down the middleware chain). Holds no token material by construction: ids and a code.
public final class AccessNote: Sendable {
    /// The fields the access log prints.
    public struct Fields: Sendable, Equatable {
        public var grantID: Int64?
        public var clientID: String?
        public var refusal: RefusalReason?
    }

    private let fields = Mutex(Fields())

    public init() {}

    /// What was noted so far.
    public var current: Fields { fields.withLock { $0 } }

    /// Notes the grant and client of an authorized request.
    public func note(grantID: Int64?, clientID: String?) {
        fields.withLock { f in
            f.grantID = grantID ?? f.grantID
            f.clientID = clientID ?? f.clientID
        }
    }

    /// Notes a refusal, with whatever it knew about whose request it was.
    public func note(_ refusal: Refusal) {
        fields.withLock { f in
            f.refusal = refusal.reason
            f.grantID = refusal.grantID ?? f.grantID
            f.clientID = refusal.clientID ?? f.clientID
        }
    }
}
