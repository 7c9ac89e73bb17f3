import Foundation
import Logging
import Synchronization

/// Receives the outcome and duration (seconds) of every upstream refresh call, e.g. for metrics.
public typealias RefreshObserver = @Sendable (RefreshOutcome, TimeInterval) -> Void

/// The one upstream-refresh function used by the gateway, the `refresh_token` grant, the console and the CLI.
///
/// Single flight at two levels: callers in one process share one ``RefreshFlight`` per grant; processes
/// share a lease in the store and a version check on write. N concurrent callers anywhere cause exactly one
/// upstream call and all get its result.
///
/// Sessions survive slow upstreams and crashes:
/// - Once a refresh has been sent upstream its answer is awaited up to ``upstreamHardLimit``, whatever the
///   callers do: a caller waits at most ``callerWait`` and is told to come back (`transient`, with the
///   truth as `retryAfter`); the answer, when it comes, is stored first, before anything else is done with it.
/// - The lease is short (``leaseDuration``) and kept alive by its holder's heartbeat while the upstream call
///   runs, so a crashed holder on another host is taken over within one lease; a holder on this host whose
///   process is gone (``LeaseHolder/isGoneFromThisHost``) is taken over at once.
/// - When the upstream answers `invalid_grant` right after an interrupted attempt (a holder died between
///   sending and storing), the grant's reason says so.
public final class RefreshCoordinator: Sendable {
    let store: any TollgateStore
    let vault: Vault
    let upstream: UpstreamClient
    let clock: any TollgateClock
    let logger: Logger
    /// Identifies this process's coordinator as a lease holder (``LeaseHolder`` text form).
    public let owner: String
    /// A refresh is attempted early when the upstream token expires within this window (default 30 s).
    public let skew: TimeInterval
    /// How long a lease holds without a heartbeat before others may take over.
    public let leaseDuration: TimeInterval
    /// How often the holder extends its lease while its upstream call runs.
    public var heartbeatInterval: TimeInterval { leaseDuration / 4 }
    /// How often a waiter polls the lease.
    public let pollInterval: TimeInterval
    /// How long a caller waits for a refresh before it gets `transient` (the refresh itself goes on).
    public let callerWait: TimeInterval
    /// How long an upstream refresh call, once sent, is awaited: independent of every caller.
    public let upstreamHardLimit: TimeInterval
    /// The longest a refresh can take from its start: waiting out another holder (its hard-limited call and
    /// its lease), then its own call. Callers that must see the outcome (admin tools) wait this long.
    public var longestRefresh: TimeInterval { upstreamHardLimit + leaseDuration * 2 }
    /// The `retryAfter` given to a caller who leaves while the upstream call is still running.
    public let inFlightRetryAfter: TimeInterval = 2
    private let inflight = Mutex<[Int64: RefreshFlight]>([:])
    /// Told about every upstream call this coordinator makes: its outcome and how long it took.
    let observer: RefreshObserver?

    /// - Parameters:
    ///   - callerWait: how long ``refresh(grantID:force:actor:waitUpTo:)`` waits by default (`serve`: its
    ///     `--upstream-timeout`).
    ///   - upstreamHardLimit: how long a sent refresh is awaited (default: 120 s, at least `callerWait`).
    public init(store: any TollgateStore, vault: Vault, upstream: UpstreamClient, clock: any TollgateClock,
                skew: TimeInterval = 30, leaseDuration: TimeInterval = 6, pollInterval: TimeInterval = 0.05,
                callerWait: TimeInterval = 10, upstreamHardLimit: TimeInterval = 120,
                logger: Logger = Logger(label: "tollgate.refresh"), observer: RefreshObserver? = nil) {
        self.observer = observer
        self.store = store
        self.vault = vault
        self.upstream = upstream
        self.clock = clock
        self.skew = skew
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
        self.callerWait = callerWait
        self.upstreamHardLimit = max(upstreamHardLimit, callerWait)
        self.logger = logger
        owner = LeaseHolder.current().description
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
    ///   - waitUpTo: how long this caller waits (default ``callerWait``). When the refresh has not finished by
    ///     then the result is `transient(retryAfter:)` and the refresh goes on; its result is stored.
    public func refresh(grantID: Int64, force: Bool = false, actor: String, waitUpTo: TimeInterval? = nil) async -> RefreshResult {
        let flight = inflight.withLock { flights -> RefreshFlight in
            if let existing = flights[grantID] { return existing }
            let flight = RefreshFlight()
            flights[grantID] = flight
            Task { [self] in
                let result = await perform(grantID: grantID, force: force, actor: actor)
                inflight.withLock { _ = $0.removeValue(forKey: grantID) }
                flight.finish(result)
            }
            return flight
        }
        if let result = await flight.result(within: waitUpTo ?? callerWait) { return result }
        return .failure(.transient(retryAfter: inFlightRetryAfter),
                        "the upstream has not answered yet; the refresh goes on and its result will be stored")
    }

    /// Waits (up to `seconds`) until every refresh this coordinator has in flight has finished and stored
    /// its result; `serve` calls it when shutting down.
    public func drain(upTo seconds: TimeInterval) async {
        let flights = inflight.withLock { Array($0.values) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        for flight in flights {
            let left = deadline - ContinuousClock.now
            _ = await flight.result(within: max(0, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18))
        }
    }

    private func perform(grantID: Int64, force: Bool, actor: String) async -> RefreshResult {
        do {
            return try await performThrowing(grantID: grantID, force: force, actor: actor)
        } catch {
            logger.error("refresh failed", metadata: ["grant": "\(grantID)", "error": "\(error)"])
            return .failure(.transient(retryAfter: inFlightRetryAfter), "the refresh could not be carried out: \(error)")
        }
    }

    private func performThrowing(grantID: Int64, force: Bool, actor: String) async throws -> RefreshResult {
        guard let grant = try await store.grant(id: grantID) else { return .failure(.notFound, "no grant \(grantID)") }
        if case .notRefreshable(let reason) = grant.refreshability {
            return .failure(.notRefreshable(reason), reason.rawValue)
        }
        let now = clock.now()
        if !force {
            if !needsRefresh(grant.upstream, at: now), let credential = try await credential(of: grant.id) {
                return RefreshResult(outcome: .refreshed, credential: credential, message: "already fresh", calledUpstream: false)
            }
            if let notBefore = grant.refreshNotBefore, notBefore > now {
                return .failure(.transient(retryAfter: notBefore.timeIntervalSince(now)),
                                "backing off after \(grant.refreshFailures) transient failure(s)")
            }
        }
        let seenVersion = grant.version
        // Waiting for another holder is bounded: its upstream call is (hard limit), and so is its lease.
        let deadline = ContinuousClock.now + .milliseconds(Int64(longestRefresh * 1000))
        var staleHolder: String?
        while true {
            let now = clock.now()
            if let lease = try await store.acquireRefreshLease(grantID: grantID, owner: owner, until: now.addingTimeInterval(leaseDuration),
                                                         now: now, replacing: staleHolder) {
                if let dead = staleHolder {
                    logger.warning("took over the refresh lease of a process that is gone", metadata: ["grant": "\(grantID)", "holder": "\(dead)"])
                }
                guard let current = try await store.grant(id: grantID) else {
                    return .failure(.notFound, "no grant \(grantID)")
                }
                if current.version != seenVersion {
                    try await store.releaseRefreshLease(grantID: grantID, owner: owner)
                    return try await resultRecorded(on: current)
                }
                return try await callUpstream(current, actor: actor, force: force, interruptedAttemptAt: lease.interruptedAttemptAt)
            }
            try await Task.sleep(nanoseconds: UInt64(pollInterval * 1_000_000_000))
            guard let lease = try await store.refreshLease(grantID: grantID) else { return .failure(.notFound, "no grant \(grantID)") }
            if lease.version != seenVersion, let current = try await store.grant(id: grantID) {
                return try await resultRecorded(on: current)
            }
            staleHolder = lease.owner.flatMap { LeaseHolder($0) }.flatMap { $0.isGoneFromThisHost ? $0.description : nil }
            if ContinuousClock.now > deadline {
                return .failure(.transient(retryAfter: inFlightRetryAfter), "another process holds the refresh lease")
            }
        }
    }

    /// The result another caller left on the grant, reused instead of calling upstream again.
    private func resultRecorded(on grant: Grant) async throws -> RefreshResult {
        if grant.state == .revoked { return .failure(.notRefreshable(.revoked), "the grant was revoked") }
        switch grant.lastRefreshOutcome {
        case .succeeded?:
            return RefreshResult(outcome: .refreshed, credential: try await credential(of: grant.id),
                                 message: "refreshed by a concurrent caller", calledUpstream: false)
        case .needsReauth?:
            return .failure(.needsReauth, grant.stateReason ?? "the upstream refused the refresh token")
        case .providerMisconfigured?:
            return .failure(.providerMisconfigured, "the provider is misconfigured")
        case .transient?, nil:
            let wait = grant.refreshNotBefore.map { max(1, $0.timeIntervalSince(clock.now())) } ?? 5
            return .failure(.transient(retryAfter: wait), "the upstream is unavailable")
        }
    }

    /// The grant's upstream credential, decrypted.
    public func credential(of grantID: Int64) async throws -> UpstreamCredential? {
        guard let sealed = try await store.sealedCredential(grantID: grantID) else { return nil }
        return try await Self.open(sealed, grantID: grantID, vault: vault)
    }

    static func open(_ sealed: SealedCredential, grantID: Int64, vault: Vault) async throws -> UpstreamCredential {
        UpstreamCredential(
            accessToken: try await openAccessToken(sealed, grantID: grantID, vault: vault).token,
            refreshToken: try await sealed.refreshToken.asyncMap { Secret(try await vault.open($0, for: .upstreamRefresh(grantID))) },
            accessExpiresAt: sealed.info.accessExpiresAt, refreshExpiresAt: sealed.info.refreshExpiresAt, scope: sealed.info.scope,
            obtainedAt: sealed.info.obtainedAt)
    }

    /// Only the access token (what a forwarded request needs): the refresh token stays sealed.
    static func openAccessToken(_ sealed: SealedCredential, grantID: Int64, vault: Vault) async throws -> UpstreamAccessToken {
        UpstreamAccessToken(token: Secret(try await vault.open(sealed.accessToken, for: .upstreamAccess(grantID))),
                            expiresAt: sealed.info.accessExpiresAt)
    }

    /// Makes the upstream call while holding the lease (kept alive by a heartbeat) and records its outcome.
    private func callUpstream(_ grant: Grant, actor: String, force: Bool, interruptedAttemptAt: Date?) async throws -> RefreshResult {
        let startedAt = clock.now()
        let action = force ? "upstream.refresh.forced" : "upstream.refresh"
        func finish(_ write: RefreshWrite, detail: String) async throws -> Bool {
            let audit = NewAuditEvent(actor: actor, action: action, serverID: grant.serverID, grantID: grant.id,
                                      clientID: grant.clientID, outcome: write.outcome.auditName, detail: detail)
            return try await store.finishRefresh(grantID: grant.id, owner: owner, expectedVersion: grant.version, result: write,
                                                 audit: audit, at: clock.now())
        }
        guard let sealed = try await store.sealedCredential(grantID: grant.id),
              let provider = try await store.provider(serverID: grant.serverID) else {
            try await store.releaseRefreshLease(grantID: grant.id, owner: owner)
            return .failure(.notRefreshable(.providerCannotRefresh), "the server has no provider")
        }
        let previous = try await Self.open(sealed, grantID: grant.id, vault: vault)
        guard let refreshToken = previous.refreshToken else {
            try await store.releaseRefreshLease(grantID: grant.id, owner: owner)
            return .failure(.notRefreshable(.noUpstreamRefreshToken), NotRefreshableReason.noUpstreamRefreshToken.rawValue)
        }
        let secret = try await vault.openProviderSecret(of: provider, in: store)

        let response: UpstreamTokenResponse
        do {
            response = try await withLeaseHeartbeat(grantID: grant.id) {
                try await upstream.refresh(refreshToken, with: ProviderAccess(provider: provider, clientSecret: secret),
                                           timeout: upstreamHardLimit)
            }
        } catch let error as UpstreamError {
            observer?(RefreshOutcome(error.kind), clock.now().timeIntervalSince(startedAt))
            return try await recordFailure(error, grant: grant, provider: provider, interruptedAttemptAt: interruptedAttemptAt, finish: finish)
        }
        observer?(.succeeded, clock.now().timeIntervalSince(startedAt))

        // Store the answer first: the upstream may have rotated the refresh token, and this is the only copy.
        let now = clock.now()
        let fresh = response.credential(at: now, previous: previous)
        let newSealed = SealedCredential(
            accessToken: try vault.seal(fresh.accessToken.value, for: .upstreamAccess(grant.id)),
            refreshToken: try response.refreshToken.map { try vault.seal($0.value, for: .upstreamRefresh(grant.id)) }
                ?? sealed.refreshToken,
            info: fresh.info)
        let expiry = fresh.accessExpiresAt.map { "expires in \(Int($0.timeIntervalSince(now)))s" } ?? "expiry unknown"
        let rotation = response.refreshToken == nil ? "refresh token kept" : "refresh token rotated"
        let ms = Int(now.timeIntervalSince(startedAt) * 1000)
        let stored = try await storeInsisting(grantID: grant.id) {
            try await finish(.refreshed(newSealed), detail: "\(expiry); \(rotation); \(ms) ms")
        }
        guard stored else {
            return .failure(.notRefreshable(.revoked), "the grant was revoked while the upstream answered")
        }
        if provider.lastError != nil { try? await store.setProviderError(providerID: provider.id, nil, at: now) }
        logger.info("upstream refresh", metadata: ["grant": "\(grant.id)", "outcome": "ok", "ms": "\(ms)"])
        return RefreshResult(outcome: .refreshed, credential: fresh, message: "\(expiry); \(rotation)", calledUpstream: true)
    }

    /// Records a failed upstream refresh; an `invalid_grant` that lost a race to a stored success is no failure.
    private func recordFailure(_ error: UpstreamError, grant: Grant, provider: Provider, interruptedAttemptAt: Date?,
                               finish: (RefreshWrite, String) async throws -> Bool) async throws -> RefreshResult {
        let now = clock.now()
        logger.warning("upstream refresh failed", metadata: ["grant": "\(grant.id)", "error": "\(error)"])
        switch error.kind {
        case .invalidGrant:
            // Another holder (whose lease this one took over) may have stored the rotated token meanwhile.
            if let current = try await store.grant(id: grant.id), current.version != grant.version, current.lastRefreshOutcome == .succeeded {
                try await store.releaseRefreshLease(grantID: grant.id, owner: owner)
                return try await resultRecorded(on: current)
            }
            let reason = Self.needsReauthReason(error, interruptedAttemptAt: interruptedAttemptAt)
            _ = try await finish(.needsReauth(reason: reason), reason)
            return RefreshResult(outcome: .needsReauth, credential: nil, message: reason, calledUpstream: true)
        case .misconfigured:
            _ = try await finish(.providerMisconfigured, error.description)
            try? await store.setProviderError(providerID: provider.id, error.description, at: now)
            return RefreshResult(outcome: .providerMisconfigured, credential: nil, message: error.description, calledUpstream: true)
        case .transient:
            let backoff = Self.backoff(afterFailures: grant.refreshFailures + 1)
            _ = try await finish(.transient(notBefore: now.addingTimeInterval(backoff), answerLost: error.mayHaveReachedUpstream),
                                 "\(error.description); next try in \(Int(backoff)) s")
            return RefreshResult(outcome: .transient(retryAfter: backoff), credential: nil, message: error.description, calledUpstream: true)
        }
    }

    /// Seconds to wait after `failures` consecutive transient failures: 1, 2, 4, 8, 16, then 30 at most.
    static func backoff(afterFailures failures: Int) -> TimeInterval {
        min(30, pow(2, Double(min(max(failures, 1), 6) - 1)))
    }

    /// What a `needs-reauth` grant says about why.
    static func needsReauthReason(_ error: UpstreamError, interruptedAttemptAt: Date?) -> String {
        guard let interrupted = interruptedAttemptAt else {
            return "the upstream refused the refresh token (\(error.message)); the user must authorize again"
        }
        let at = ISO8601DateFormatter().string(from: interrupted)
        return "the upstream refused the refresh token (\(error.message)) right after an earlier refresh attempt, sent at \(at), "
            + "was interrupted before its answer was stored (the process making it stopped, or the connection failed after the "
            + "request had gone out); the upstream had most likely rotated the refresh token then, so the user must authorize again"
    }

    /// Runs `body` (the upstream call) while extending this holder's lease every ``heartbeatInterval``.
    private func withLeaseHeartbeat<T: Sendable>(grantID: Int64, _ body: () async throws -> T) async throws -> T {
        let heartbeat = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(heartbeatInterval * 1_000_000_000))
                if Task.isCancelled { break }
                do {
                    let now = clock.now()
                    if try await !store.renewRefreshLease(grantID: grantID, owner: owner, until: now.addingTimeInterval(leaseDuration), now: now) {
                        logger.warning("refresh lease lost while the upstream call runs; its answer will still be stored",
                                       metadata: ["grant": "\(grantID)"])
                        break
                    }
                } catch {
                    logger.warning("could not extend the refresh lease", metadata: ["grant": "\(grantID)", "error": "\(error)"])
                }
            }
        }
        defer { heartbeat.cancel() }
        return try await body()
    }

    /// Retries a store write that must not be lost (a busy or briefly unavailable store), for up to ~10 s.
    private func storeInsisting(grantID: Int64, _ write: () async throws -> Bool) async throws -> Bool {
        var attempt = 0
        while true {
            do {
                return try await write()
            } catch {
                attempt += 1
                guard attempt < 20 else { throw error }
                logger.warning("storing a refresh answer failed; retrying", metadata: ["grant": "\(grantID)", "error": "\(error)"])
                try? await Task.sleep(nanoseconds: 500_000_000)
            }
        }
    }
}
