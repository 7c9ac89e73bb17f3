import Foundation
import Logging
import Synchronization

/// Receives the outcome and duration (seconds) of every upstream refresh call, e.g. for metrics.
public typealias RefreshObserver = @Sendable (RefreshOutcome, TimeInterval) -> Void

/// The one upstream-refresh function used by the gateway, the `refresh_token` grant, the console and the CLI.
///
/// Single flight at two levels: callers in one process share one task per grant; processes share a
/// lease in the store (with an expiry, so a crashed holder does not block forever) and a version check on
/// write. N concurrent callers anywhere cause exactly one upstream call and all get its result.
public final class RefreshCoordinator: Sendable {
    let store: any TollgateStore
    let vault: Vault
    let upstream: UpstreamClient
    let clock: any TollgateClock
    let logger: Logger
    /// Identifies this process's coordinator as a lease holder.
    public let owner: String
    /// A refresh is attempted early when the upstream token expires within this window (SPEC §4: 30 s).
    public let skew: TimeInterval
    /// How long a lease holds before others may take over.
    public let leaseDuration: TimeInterval
    /// How often a waiter polls the lease.
    public let pollInterval: TimeInterval
    private let inflight = Mutex<[Int64: Task<RefreshResult, Never>]>([:])
    /// Told about every upstream call this coordinator makes: its outcome and how long it took.
    let observer: RefreshObserver?

    public init(store: any TollgateStore, vault: Vault, upstream: UpstreamClient, clock: any TollgateClock,
                skew: TimeInterval = 30, leaseDuration: TimeInterval = 30, pollInterval: TimeInterval = 0.05,
                logger: Logger = Logger(label: "tollgate.refresh"), observer: RefreshObserver? = nil) {
        self.observer = observer
        self.store = store
        self.vault = vault
        self.upstream = upstream
        self.clock = clock
        self.skew = skew
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
        self.logger = logger
        owner = "\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    }

    /// Whether `info` needs a refresh at `now` (expired or within the skew window). Unknown expiry never does.
    ///
    /// The window is at most half the token's lifetime, so a short-lived upstream token (say 10 s) is
    /// used for half its life instead of being refreshed on every request.
    public func needsRefresh(_ info: UpstreamCredentialInfo, at now: Date) -> Bool {
        guard let expiry = info.accessExpiresAt else { return false }
        var window = skew
        if let obtained = info.obtainedAt {
            window = min(skew, max(0, expiry.timeIntervalSince(obtained)) / 2)
        }
        return expiry.timeIntervalSince(now) <= window
    }

    /// Refreshes the upstream credential of a grant, or joins the refresh already in flight.
    ///
    /// - Parameters:
    ///   - force: refresh even when the credential is fresh and ignore transient backoff (admin action).
    ///   - actor: who asked, for the audit log (`server`, `admin`, `client:<id>`).
    public func refresh(grantID: Int64, force: Bool = false, actor: String) async -> RefreshResult {
        let task: Task<RefreshResult, Never> = inflight.withLock { flights in
            if let existing = flights[grantID] { return existing }
            let task = Task { [self] in
                let result = await perform(grantID: grantID, force: force, actor: actor)
                inflight.withLock { _ = $0.removeValue(forKey: grantID) }
                return result
            }
            flights[grantID] = task
            return task
        }
        return await task.value
    }

    private func perform(grantID: Int64, force: Bool, actor: String) async -> RefreshResult {
        do {
            return try await performThrowing(grantID: grantID, force: force, actor: actor)
        } catch {
            logger.error("refresh failed", metadata: ["grant": "\(grantID)", "error": "\(error)"])
            return .failure(.transient(retryAfter: 5), "the refresh could not be carried out: \(error)")
        }
    }

    private func performThrowing(grantID: Int64, force: Bool, actor: String) async throws -> RefreshResult {
        guard let grant = try store.grant(id: grantID) else { return .failure(.notFound, "no grant \(grantID)") }
        if case .notRefreshable(let reason) = grant.refreshability {
            return .failure(.notRefreshable(reason), reason.rawValue)
        }
        let now = clock.now()
        if !force {
            if !needsRefresh(grant.upstream, at: now), let credential = try credential(of: grant.id) {
                return RefreshResult(outcome: .refreshed, credential: credential, message: "already fresh", calledUpstream: false)
            }
            if let notBefore = grant.refreshNotBefore, notBefore > now {
                return .failure(.transient(retryAfter: notBefore.timeIntervalSince(now)),
                                "backing off after \(grant.refreshFailures) transient failure(s)")
            }
        }
        let seenVersion = grant.version
        let deadline = now.addingTimeInterval(leaseDuration * 2 + 5)
        while true {
            let now = clock.now()
            if try store.acquireRefreshLease(grantID: grantID, owner: owner, until: now.addingTimeInterval(leaseDuration), now: now) {
                guard let current = try store.grant(id: grantID) else {
                    return .failure(.notFound, "no grant \(grantID)")
                }
                if current.version != seenVersion {
                    try store.releaseRefreshLease(grantID: grantID, owner: owner)
                    return try resultRecorded(on: current)
                }
                return try await callUpstream(current, actor: actor, force: force)
            }
            try await Task.sleep(nanoseconds: UInt64(pollInterval * 1_000_000_000))
            guard let lease = try store.refreshLease(grantID: grantID) else { return .failure(.notFound, "no grant \(grantID)") }
            if lease.version != seenVersion, let current = try store.grant(id: grantID) {
                return try resultRecorded(on: current)
            }
            if Date() > deadline && clock.now() > deadline {
                return .failure(.transient(retryAfter: 5), "another process holds the refresh lease")
            }
        }
    }

    /// The result another caller left on the grant, reused instead of calling upstream again.
    private func resultRecorded(on grant: Grant) throws -> RefreshResult {
        if grant.state == .revoked { return .failure(.notRefreshable(.revoked), "the grant was revoked") }
        switch grant.lastRefreshOutcome {
        case .succeeded?:
            return RefreshResult(outcome: .refreshed, credential: try credential(of: grant.id),
                                 message: "refreshed by a concurrent caller", calledUpstream: false)
        case .needsReauth?:
            return .failure(.needsReauth, "the upstream refused the refresh token")
        case .providerMisconfigured?:
            return .failure(.providerMisconfigured, "the provider is misconfigured")
        case .transient?, nil:
            let wait = grant.refreshNotBefore.map { max(1, $0.timeIntervalSince(clock.now())) } ?? 5
            return .failure(.transient(retryAfter: wait), "the upstream is unavailable")
        }
    }

    /// The grant's upstream credential, decrypted.
    public func credential(of grantID: Int64) throws -> UpstreamCredential? {
        guard let sealed = try store.sealedCredential(grantID: grantID) else { return nil }
        return try Self.open(sealed, grantID: grantID, vault: vault)
    }

    static func open(_ sealed: SealedCredential, grantID: Int64, vault: Vault) throws -> UpstreamCredential {
        UpstreamCredential(
            accessToken: try openAccessToken(sealed, grantID: grantID, vault: vault).token,
            refreshToken: try sealed.refreshToken.map { Secret(try vault.open($0, for: .grant(grantID, "upstream_refresh"))) },
            accessExpiresAt: sealed.info.accessExpiresAt, refreshExpiresAt: sealed.info.refreshExpiresAt, scope: sealed.info.scope,
            obtainedAt: sealed.info.obtainedAt)
    }

    /// Only the access token (what a forwarded request needs): the refresh token stays sealed.
    static func openAccessToken(_ sealed: SealedCredential, grantID: Int64, vault: Vault) throws -> UpstreamAccessToken {
        UpstreamAccessToken(token: Secret(try vault.open(sealed.accessToken, for: .grant(grantID, "upstream_access"))),
                            expiresAt: sealed.info.accessExpiresAt)
    }

    /// Makes the upstream call while holding the lease and records its outcome.
    private func callUpstream(_ grant: Grant, actor: String, force: Bool) async throws -> RefreshResult {
        let startedAt = clock.now()
        func finish(_ write: RefreshWrite, outcome: String, detail: String) throws -> Bool {
            try store.finishRefresh(grantID: grant.id, owner: owner, expectedVersion: grant.version, result: write,
                                    audit: NewAuditEvent(actor: actor, action: force ? "upstream.refresh.forced" : "upstream.refresh",
                                                         serverID: grant.serverID, grantID: grant.id, clientID: grant.clientID,
                                                         outcome: outcome, detail: detail),
                                    at: clock.now())
        }
        guard let sealed = try store.sealedCredential(grantID: grant.id),
              let provider = try store.provider(serverID: grant.serverID) else {
            try store.releaseRefreshLease(grantID: grant.id, owner: owner)
            return .failure(.notRefreshable(.providerCannotRefresh), "the server has no provider")
        }
        let previous = try Self.open(sealed, grantID: grant.id, vault: vault)
        guard let refreshToken = previous.refreshToken else {
            try store.releaseRefreshLease(grantID: grant.id, owner: owner)
            return .failure(.notRefreshable(.noUpstreamRefreshToken), NotRefreshableReason.noUpstreamRefreshToken.rawValue)
        }
        let secret = try provider.hasClientSecret
            ? store.sealedProviderSecret(providerID: provider.id).map { Secret(try vault.open($0, for: .provider(provider.id))) }
            : nil
        do {
            let response: UpstreamTokenResponse
            do {
                response = try await upstream.refresh(refreshToken, with: ProviderAccess(provider: provider, clientSecret: secret))
                observer?(.succeeded, clock.now().timeIntervalSince(startedAt))
            } catch let error as UpstreamError {
                let outcome: RefreshOutcome = switch error.kind {
                case .invalidGrant: .needsReauth
                case .misconfigured: .providerMisconfigured
                case .transient: .transient
                }
                observer?(outcome, clock.now().timeIntervalSince(startedAt))
                throw error
            }
            let now = clock.now()
            let fresh = response.credential(at: now, previous: previous)
            let newSealed = SealedCredential(
                accessToken: try vault.seal(fresh.accessToken.value, for: .grant(grant.id, "upstream_access")),
                refreshToken: response.refreshToken == nil
                    ? sealed.refreshToken
                    : try vault.seal(response.refreshToken!.value, for: .grant(grant.id, "upstream_refresh")),
                info: fresh.info)
            let expiry = fresh.accessExpiresAt.map { "expires in \(Int($0.timeIntervalSince(now)))s" } ?? "expiry unknown"
            let rotation = response.refreshToken == nil ? "refresh token kept" : "refresh token rotated"
            let ms = Int(now.timeIntervalSince(startedAt) * 1000)
            guard try finish(.refreshed(newSealed), outcome: "ok", detail: "\(expiry); \(rotation); \(ms) ms") else {
                logger.error("refresh result lost the lease", metadata: ["grant": "\(grant.id)"])
                return .failure(.transient(retryAfter: 1), "the refresh lease was lost while the upstream answered")
            }
            if provider.lastError != nil { try? store.setProviderError(providerID: provider.id, nil, at: now) }
            logger.info("upstream refresh", metadata: ["grant": "\(grant.id)", "outcome": "ok", "ms": "\(ms)"])
            return RefreshResult(outcome: .refreshed, credential: fresh, message: "\(expiry); \(rotation)", calledUpstream: true)
        } catch let error as UpstreamError {
            let now = clock.now()
            logger.warning("upstream refresh failed", metadata: ["grant": "\(grant.id)", "error": "\(error)"])
            switch error.kind {
            case .invalidGrant:
                _ = try finish(.needsReauth, outcome: RefreshOutcome.needsReauth.rawValue, detail: error.description)
                return RefreshResult(outcome: .needsReauth, credential: nil, message: error.description, calledUpstream: true)
            case .misconfigured:
                _ = try finish(.providerMisconfigured, outcome: RefreshOutcome.providerMisconfigured.rawValue, detail: error.description)
                try? store.setProviderError(providerID: provider.id, error.description, at: now)
                return RefreshResult(outcome: .providerMisconfigured, credential: nil, message: error.description, calledUpstream: true)
            case .transient:
                let backoff = min(60, pow(2, Double(min(grant.refreshFailures, 6))))
                _ = try finish(.transient(notBefore: now.addingTimeInterval(backoff)), outcome: RefreshOutcome.transient.rawValue,
                               detail: error.description)
                return RefreshResult(outcome: .transient(retryAfter: backoff), credential: nil, message: error.description, calledUpstream: true)
            }
        }
    }
}
