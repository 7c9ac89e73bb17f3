import TollgateCore

/// Work the reducer asks for; the ``ConsoleRunner`` carries it out off the UI thread and answers with a
/// ``ConsoleEvent``. Loads carry a request number so that an answer to a superseded request is dropped.
public enum ConsoleEffect: Equatable, Sendable {
    /// One window of the grants listing.
    case loadGrants(request: Int, query: GrantQuery)
    /// How many grants the filter selects, counting no further than `limit`.
    case countGrants(request: Int, query: GrantQuery, limit: Int)
    /// Every server with its provider (servers are few).
    case loadServers(request: Int)
    /// Every provider with its server and its refresh health over the last hour.
    case loadProviders(request: Int)
    /// A page of clients.
    case loadClients(request: Int, serverSlug: String?, after: String?, limit: Int)
    /// Audit events, newest first: a page older than `query.before`, or (the live tail) those newer than `query.after`.
    case loadAudit(request: Int, query: AuditQuery)
    /// One grant in full.
    case loadDetail(request: Int, grantID: Int64)
    /// A server's well-known documents.
    case loadWellKnown(request: Int, serverSlug: String)
    /// A forced upstream refresh through the core's refresh coordinator.
    case forceRefresh(grantID: Int64)
    /// Revokes a grant, optionally at the upstream first.
    case revoke(grantID: Int64, upstream: Bool)
    /// Counts (exactly) and lists the first grants a bulk action on `scope` would touch; changes nothing.
    case planBulk(request: Int, action: BulkAction, scope: GrantScope)
    /// Runs a bulk revoke or refresh as job `job`, posting progress; ``cancelJob(_:)`` stops it.
    case runBulk(job: Int, action: BulkAction, scope: GrantScope, upstream: Bool)
    /// Revokes a client and every grant it holds (one transaction in the core).
    case revokeClient(clientID: String)
    /// Writes every grant `query` selects (paged from the store) to a new file at `path`, as job `job`.
    case export(job: Int, format: ExportFormat, path: String, overwrite: Bool, query: GrantQuery)
    /// Asks job `job` to stop before its next grant or page.
    case cancelJob(Int)
    /// Puts `text` on the clipboard (OSC 52, written by the loop to the terminal).
    case copy(String)
    /// Loads a theme by name or path.
    case loadTheme(name: String)
    /// Leave the console.
    case quit
}
