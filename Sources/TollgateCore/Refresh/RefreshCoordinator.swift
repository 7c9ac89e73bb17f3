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
        RefreshStateMachine.needsRefresh(info, at: now, skew: skew)
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
    /// its result; `serve` calls it when shutting down. Returns how many were in flight and how many of them
    /// finished in time (the others go on until the process exits).
    @discardableResult
    public func drain(upTo seconds: TimeInterval) async -> RefreshDrain {
        let flights = inflight.withLock { Array($0.values) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var finished = 0
        for flight in flights {
            let left = deadline - ContinuousClock.now
            if await flight.result(within: max(0, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)) != nil {
                finished += 1
            }
        }
        return RefreshDrain(inFlight: flights.count, finished: finished)
    }

    private func perform(grantID: Int64, force: Bool, actor: String) async -> RefreshResult {
        do {
            return try await performThrowing(grantID: grantID, force: force, actor: actor)
        } catch {
            logger.error("refresh failed", metadata: ["grant": "\(grantID)", "error": "\(error)"])
            return .failure(.transient(retryAfter: inFlightRetryAfter), "the refresh could not be carried out: \(error)")
        }
    }

    /// Performs the actions of a ``RefreshStateMachine`` until it finishes: every decision is the machine's,
    /// every read, write, sleep and upstream call is made here.
    private func performThrowing(grantID: Int64, force: Bool, actor: String) async throws -> RefreshResult {
        var machine = RefreshStateMachine(grantID: grantID, force: force, skew: skew, longestRefresh: longestRefresh,
                                          inFlightRetryAfter: inFlightRetryAfter)
        var action = machine.start(at: ContinuousClock.now)
        var upstreamMilliseconds: Int?
        while true {
            switch action {
            case .readGrant:
                action = machine.grantRead(try await store.grant(id: grantID), now: clock.now())
            case .readCredential:
                action = machine.credentialRead(try await credential(of: grantID))
            case .openCredential(let sealed):
                action = machine.credentialRead(try await Self.open(sealed, grantID: grantID, vault: vault))
            case .takeLease(let staleHolder):
                let now = clock.now()
                if let lease = try await store.acquireRefreshLease(grantID: grantID, owner: owner, until: now.addingTimeInterval(leaseDuration),
                                                                   now: now, replacing: staleHolder) {
                    if let dead = staleHolder {
                        logger.warning("took over the refresh lease of a process that is gone", metadata: ["grant": "\(grantID)", "holder": "\(dead)"])
                    }
                    action = machine.leaseTaken(lease, now: now)
                } else {
                    action = machine.leaseNotTaken()
                }
            case .pollLease:
                try await Task.sleep(nanoseconds: UInt64(pollInterval * 1_000_000_000))
                let lease = try await store.refreshLease(grantID: grantID)
                let holderIsGone = lease?.owner.flatMap { LeaseHolder($0) }?.isGoneFromThisHost ?? false
                action = machine.leaseRead(lease, holderIsGoneFromThisHost: holderIsGone, at: ContinuousClock.now)
            case .releaseLease:
                try await store.releaseRefreshLease(grantID: grantID, owner: owner)
                action = machine.leaseReleased()
            case .callUpstream(let lease):
                action = try await callUpstream(lease, machine: &machine, milliseconds: &upstreamMilliseconds)
            case .storeResult(let write, let detail, let grant, let insisting):
                let audit = NewAuditEvent(actor: actor, action: force ? "upstream.refresh.forced" : "upstream.refresh",
                                          serverID: grant.serverID, grantID: grant.id, clientID: grant.clientID,
                                          outcome: write.outcome.auditName, detail: detail, durationMilliseconds: upstreamMilliseconds)
                let written = insisting
                    ? try await storeInsisting(grantID: grant.id) { try await finishRefresh(write, of: grant, audit: audit) }
                    : try await finishRefresh(write, of: grant, audit: audit)
                if case .refreshed = write {
                    if written {
                        logger.info("upstream refresh", metadata: ["grant": "\(grant.id)", "outcome": "ok", "detail": "\(detail)"])
                    } else {
                        logger.notice("upstream refresh answered after the grant was revoked or its credential replaced; its tokens were not stored",
                                      metadata: ["grant": "\(grant.id)"])
                    }
                }
                action = machine.resultStored(written)
            case .recordProviderError(let providerID, let message):
                try? await store.setProviderError(providerID: providerID, message, at: clock.now())
                action = machine.providerErrorRecorded()
            case .finish(let result):
                return result
            }
        }
    }

    /// Writes a refresh's outcome for `grant` as leased (its version the expected one), releasing the lease.
    private func finishRefresh(_ write: RefreshWrite, of grant: Grant, audit: NewAuditEvent) async throws -> Bool {
        try await store.finishRefresh(grantID: grant.id, owner: owner, expectedVersion: grant.version, result: write,
                                      audit: audit, at: clock.now())
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

    /// Makes the upstream call with what the lease brought (the lease kept alive by a heartbeat) and tells
    /// `machine` how it went: the answer sealed for storing, or the upstream's error. `milliseconds` gets how
    /// long the upstream took (recorded with the refresh's audit event).
    private func callUpstream(_ lease: RefreshLeaseAcquisition, machine: inout RefreshStateMachine,
                              milliseconds: inout Int?) async throws -> RefreshStateMachine.Action {
        let grantID = lease.grant.id
        guard let sealed = lease.sealedCredential, let provider = lease.provider else {
            preconditionFailure("the refresh state machine calls upstream only with a credential and a provider")
        }
        let startedAt = clock.now()
        let previous = try await Self.open(sealed, grantID: grantID, vault: vault)
        guard let refreshToken = previous.refreshToken else {
            preconditionFailure("the refresh state machine calls upstream only with a refresh token")
        }
        let secret = try await vault.openProviderSecret(lease.sealedProviderSecret, of: provider)
        let response: UpstreamTokenResponse
        do {
            response = try await withLeaseHeartbeat(grantID: grantID) {
                try await upstream.refresh(refreshToken, with: ProviderAccess(provider: provider, clientSecret: secret),
                                           timeout: upstreamHardLimit)
            }
        } catch let error as UpstreamError {
            let seconds = clock.now().timeIntervalSince(startedAt)
            milliseconds = Int((seconds * 1000).rounded())
            observer?(RefreshOutcome(error.kind), seconds)
            logger.warning("upstream refresh failed", metadata: ["grant": "\(grantID)", "error": "\(error)"])
            return machine.upstreamFailed(error, now: clock.now())
        }
        let seconds = clock.now().timeIntervalSince(startedAt)
        milliseconds = Int((seconds * 1000).rounded())
        observer?(.succeeded, seconds)
        // Sealed at once: the upstream may have rotated the refresh token, and this is the only copy.
        let now = clock.now()
        let fresh = response.credential(at: now, previous: previous)
        let newSealed = SealedCredential(
            accessToken: try vault.seal(fresh.accessToken.value, for: .upstreamAccess(grantID)),
            refreshToken: try response.refreshToken.map { try vault.seal($0.value, for: .upstreamRefresh(grantID)) }
                ?? sealed.refreshToken,
            info: fresh.info)
        return machine.upstreamAnswered(fresh, sealed: newSealed, rotated: response.refreshToken != nil, startedAt: startedAt, now: now)
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
