import Foundation
import TollgateCore

/// Something that happened outside the key handler: a load answered, an action finished, time passed, the
/// store changed, the terminal was resized.
public enum ConsoleEvent: Sendable {
    case grants(request: Int, Page<Grant>)
    case grantCount(request: Int, Int)
    case servers(request: Int, [ServerEntry])
    case providers(request: Int, [ServerEntry])
    case clients(request: Int, [ClientEntry], nextCursor: String?)
    /// A page of the audit log; `nextBefore` continues it (older events) when there are more.
    case audit(request: Int, [AuditEvent], nextBefore: Int64?)
    case detail(request: Int, GrantInfo)
    case wellKnown(request: Int, WellKnownDocuments)
    /// A load failed; `message` is one line.
    case loadFailed(request: Int, message: String)
    /// A forced refresh finished (whatever its outcome).
    case refreshed(grantID: Int64, RefreshSummary)
    /// A revocation finished; `note` is the core's remark (upstream revocation, already revoked).
    case revoked(grantID: Int64, note: String?)
    /// A refresh or revocation could not be carried out.
    case actionFailed(grantID: Int64, action: String, message: String)
    /// What a bulk action would touch (the answer to ``ConsoleEffect/planBulk(request:action:scope:)``).
    case bulkPlanned(request: Int, BulkPlan)
    /// A job got further: `done` of `total` grants or rows, `failed` of them failed.
    case jobProgress(job: Int, done: Int, total: Int?, failed: Int)
    /// A bulk job ended (finished or cancelled).
    case bulkFinished(job: Int, BulkResult)
    /// An export job ended: `rows` written (and the file kept), or `cancelled` (the partial file removed).
    case exportFinished(job: Int, rows: Int, cancelled: Bool)
    /// A job could not go on; `message` is one line.
    case jobFailed(job: Int, message: String)
    /// A client was revoked with `grants` grants.
    case clientRevoked(clientID: String, grants: Int)
    /// A client could not be revoked.
    case clientRevokeFailed(clientID: String, message: String)
    case theme(Theme)
    /// A theme could not be used; the console falls back to the default.
    case themeFailed(ThemeError)
    /// The clock moved (every second, more often while a spinner turns).
    case tick(Date)
    /// Another process committed to the store.
    case dataChanged
    case resized(columns: Int, rows: Int)
}
