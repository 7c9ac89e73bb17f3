import Foundation

/// Every decision of one upstream refresh, without any I/O: ``RefreshCoordinator`` performs the actions it
/// returns and feeds back what came of them.
///
/// The flow, one event at a time:
/// - ``start(at:)`` asks to read the grant. A missing grant is `notFound`, a grant that cannot be refreshed
///   fails with its reason; unless forced, a credential still outside the skew window is used as it is, and
///   a backoff still in force is `transient` with the time left.
/// - Then the lease is taken (replacing a holder whose process is gone from this host). Taken: when the
///   grant's version moved since the first read another holder has just finished, and its recorded result
///   is reused; otherwise the refresh is sent upstream. Not taken: the lease is polled until the version
///   moves (the other holder's result is reused), the holder turns out to be gone (taken over), or the
///   deadline (``RefreshCoordinator/longestRefresh`` after the start) passes.
/// - The upstream's answer is stored first, insisting: new tokens are the only copy. `invalid_grant` that lost
///   a race to a stored success is no failure; after an interrupted attempt it says so in the grant's reason;
///   a misconfigured provider is recorded on the provider; a misconfigured provider and a transient failure both
///   back off 1, 2, 4, 8, 16 then 30 seconds, so no answer makes a grant call upstream on every request.
///
/// An event that does not fit the state is a bug of the caller and stops the process.
public struct RefreshStateMachine: Sendable {
    /// What the caller does next; each action is answered by the event named on it.
    public enum Action: Sendable {
        /// Read the grant (`store.grant(id:)`); answer with ``grantRead(_:now:)``.
        case readGrant
        /// Read and open the grant's stored upstream credential; answer with ``credentialRead(_:)``.
        case readCredential
        /// Open this credential (brought by the lease); answer with ``credentialRead(_:)``.
        case openCredential(SealedCredential)
        /// Try to take the grant's refresh lease, replacing `staleHolder` if it still has it; answer with
        /// ``leaseTaken(_:now:)`` or ``leaseNotTaken()``.
        case takeLease(replacing: String?)
        /// Wait one poll interval, then read the lease; answer with ``leaseRead(_:holderIsGoneFromThisHost:at:)``.
        case pollLease
        /// Give the lease up without writing a result; answer with ``leaseReleased()``.
        case releaseLease
        /// Send the refresh upstream with what the lease brought, keeping the lease alive meanwhile; answer
        /// with ``upstreamAnswered(_:sealed:rotated:startedAt:now:)`` or ``upstreamFailed(_:now:)``.
        case callUpstream(RefreshLeaseAcquisition)
        /// Write the outcome for `grant` (as leased; its version is the expected one) with an audit `detail`;
        /// `insisting`: retry while the store fails, the write must not be lost. Answer with ``resultStored(_:)``.
        case storeResult(RefreshWrite, detail: String, grant: Grant, insisting: Bool)
        /// Record (or with `nil` clear) the provider's last error, ignoring a failure; answer with
        /// ``providerErrorRecorded()``.
        case recordProviderError(providerID: Int64, message: String?)
        /// The refresh is over.
        case finish(RefreshResult)
    }

    /// What is known of the waiting for the lease.
    struct Waiting: Sendable {
        /// The grant's version when the refresh began: once it moves, another holder has finished.
        var seenVersion: Int64
    }

    /// The state to enter and the action to return, decided before an intermediate step (releasing the lease).
    struct Next: Sendable {
        var state: State
        var action: Action
    }

    indirect enum State: Sendable {
        case initial
        case readingGrant
        case checkingFreshness(Grant, now: Date)
        case takingLease(Waiting)
        case polling(Waiting)
        case readingMovedGrant(Waiting, lease: RefreshLeaseState, holderIsGone: Bool, at: ContinuousClock.Instant)
        case releasingLease(then: Next)
        case reusingCredential(message: String)
        case callingUpstream(RefreshLeaseAcquisition)
        case checkingRefusalRace(RefreshLeaseAcquisition, UpstreamError)
        case storing(RefreshLeaseAcquisition, RefreshWrite, then: RefreshResult)
        case readingAfterRefusedTokens
        case recordingProviderError(then: RefreshResult)
        case finished
    }

    /// The grant being refreshed.
    public let grantID: Int64
    /// Refresh even when the credential is fresh, and ignore a backoff.
    public let force: Bool
    /// See ``RefreshCoordinator/skew``.
    public let skew: TimeInterval
    /// How long waiting for another holder may last, from ``start(at:)``.
    public let longestRefresh: TimeInterval
    /// The `retryAfter` given when the refresh gives up waiting for another holder.
    public let inFlightRetryAfter: TimeInterval
    private var state = State.initial
    private var deadline: ContinuousClock.Instant?

    /// A refresh of grant `grantID` about to start; the other values are the coordinator's settings of the same names.
    public init(grantID: Int64, force: Bool, skew: TimeInterval, longestRefresh: TimeInterval, inFlightRetryAfter: TimeInterval) {
        self.grantID = grantID
        self.force = force
        self.skew = skew
        self.longestRefresh = longestRefresh
        self.inFlightRetryAfter = inFlightRetryAfter
    }

    // MARK: - Events

    /// The refresh begins at `instant` (of a monotonic clock: waiting ends ``longestRefresh`` later).
    public mutating func start(at instant: ContinuousClock.Instant) -> Action {
        guard case .initial = state else { invalid("start") }
        deadline = instant + .milliseconds(Int64(longestRefresh * 1000))
        state = .readingGrant
        return .readGrant
    }

    /// The grant as read at `now` (`nil`: it does not exist).
    public mutating func grantRead(_ grant: Grant?, now: Date) -> Action {
        switch state {
        case .readingGrant:
            guard let grant else { return finish(.failure(.notFound, "no grant \(grantID)")) }
            if case .notRefreshable(let reason) = grant.refreshability {
                return finish(.failure(.notRefreshable(reason), reason.rawValue))
            }
            if !force && !Self.needsRefresh(grant.upstream, at: now, skew: skew) {
                state = .checkingFreshness(grant, now: now)
                return .readCredential
            }
            return afterFreshness(grant, now: now)
        case .readingMovedGrant(let waiting, let lease, let holderIsGone, let instant):
            if let grant { return go(resultRecorded(on: grant, now: now, sealed: nil)) }
            return keepWaiting(waiting, lease: lease, holderIsGone: holderIsGone, at: instant)
        case .readingAfterRefusedTokens:
            guard let grant else { return finish(.failure(.notFound, "no grant \(grantID)")) }
            if grant.state == .revoked {
                return finish(.failure(.notRefreshable(.revoked), "the grant was revoked while the upstream answered"))
            }
            state = .reusingCredential(message: "the grant's credential was replaced while the upstream answered "
                                       + "(a re-authorization or a concurrent refresh); the newer one is used")
            return .readCredential
        case .checkingRefusalRace(let leased, let error):
            // The holder whose lease this one took over may have stored the rotated token meanwhile.
            if let grant, grant.version != leased.grant.version, grant.lastRefreshOutcome == .succeeded {
                return go(Next(state: .releasingLease(then: resultRecorded(on: grant, now: now, sealed: nil)), action: .releaseLease))
            }
            let reason = Self.needsReauthReason(error, interruptedAttemptAt: leased.interruptedAttemptAt)
            return store(.needsReauth(reason: reason), detail: reason, leased: leased, insisting: false,
                         then: RefreshResult(outcome: .needsReauth, credential: nil, message: reason, calledUpstream: true))
        default:
            invalid("grantRead")
        }
    }

    /// The stored credential, opened (`nil`: none stored).
    public mutating func credentialRead(_ credential: UpstreamCredential?) -> Action {
        switch state {
        case .checkingFreshness(let grant, let now):
            if let credential {
                return finish(RefreshResult(outcome: .refreshed, credential: credential, message: "already fresh", calledUpstream: false))
            }
            return afterFreshness(grant, now: now)
        case .reusingCredential(let message):
            return finish(RefreshResult(outcome: .refreshed, credential: credential, message: message, calledUpstream: false))
        default:
            invalid("credentialRead")
        }
    }

    /// The lease was taken at `now`, with what the grant holds under it.
    public mutating func leaseTaken(_ lease: RefreshLeaseAcquisition, now: Date) -> Action {
        guard case .takingLease(let waiting) = state else { invalid("leaseTaken") }
        if lease.grant.version != waiting.seenVersion {
            return go(Next(state: .releasingLease(then: resultRecorded(on: lease.grant, now: now, sealed: lease.sealedCredential)),
                           action: .releaseLease))
        }
        guard let sealed = lease.sealedCredential, lease.provider != nil else {
            return releaseAndFinish(.failure(.notRefreshable(.providerCannotRefresh), "the server has no provider"))
        }
        guard sealed.refreshToken != nil else {
            return releaseAndFinish(.failure(.notRefreshable(.noUpstreamRefreshToken), NotRefreshableReason.noUpstreamRefreshToken.rawValue))
        }
        state = .callingUpstream(lease)
        return .callUpstream(lease)
    }

    /// Another live holder has the lease.
    public mutating func leaseNotTaken() -> Action {
        guard case .takingLease(let waiting) = state else { invalid("leaseNotTaken") }
        state = .polling(waiting)
        return .pollLease
    }

    /// The lease as polled at `instant` (`nil`: the grant is gone); `holderIsGoneFromThisHost` tells whether its
    /// holder is a process of this host that no longer exists (``LeaseHolder/isGoneFromThisHost``).
    public mutating func leaseRead(_ lease: RefreshLeaseState?, holderIsGoneFromThisHost: Bool, at instant: ContinuousClock.Instant) -> Action {
        guard case .polling(let waiting) = state else { invalid("leaseRead") }
        guard let lease else { return finish(.failure(.notFound, "no grant \(grantID)")) }
        if lease.version != waiting.seenVersion {
            state = .readingMovedGrant(waiting, lease: lease, holderIsGone: holderIsGoneFromThisHost, at: instant)
            return .readGrant
        }
        return keepWaiting(waiting, lease: lease, holderIsGone: holderIsGoneFromThisHost, at: instant)
    }

    /// The lease was given up.
    public mutating func leaseReleased() -> Action {
        guard case .releasingLease(let next) = state else { invalid("leaseReleased") }
        return go(next)
    }

    /// The upstream issued `fresh` (sealed for storing as `sealed`; `rotated`: with a new refresh token) for
    /// a call sent at `startedAt`, answered at `now`.
    public mutating func upstreamAnswered(_ fresh: UpstreamCredential, sealed: SealedCredential, rotated: Bool,
                                          startedAt: Date, now: Date) -> Action {
        guard case .callingUpstream(let leased) = state else { invalid("upstreamAnswered") }
        let expiry = fresh.accessExpiresAt.map { "expires in \(Int($0.timeIntervalSince(now)))s" } ?? "expiry unknown"
        let rotation = rotated ? "refresh token rotated" : "refresh token kept"
        let ms = Int(now.timeIntervalSince(startedAt) * 1000)
        return store(.refreshed(sealed, replacingObtainedAt: leased.sealedCredential?.info.obtainedAt),
                     detail: "\(expiry); \(rotation); \(ms) ms", leased: leased, insisting: true,
                     then: RefreshResult(outcome: .refreshed, credential: fresh, message: "\(expiry); \(rotation)", calledUpstream: true))
    }

    /// The upstream call failed at `now`.
    public mutating func upstreamFailed(_ error: UpstreamError, now: Date) -> Action {
        guard case .callingUpstream(let leased) = state else { invalid("upstreamFailed") }
        let done = { (outcome: RefreshResult.Outcome) in
            RefreshResult(outcome: outcome, credential: nil, message: error.description, calledUpstream: true)
        }
        switch error.kind {
        case .invalidGrant:
            state = .checkingRefusalRace(leased, error)
            return .readGrant
        case .misconfigured:
            // Backed off like a transient failure: a refused client is not asked again on every request.
            let backoff = Self.backoff(afterFailures: leased.grant.refreshFailures + 1)
            return store(.providerMisconfigured(notBefore: now.addingTimeInterval(backoff)), detail: "\(error.description); next try in \(Int(backoff)) s",
                         leased: leased, insisting: false, then: done(.providerMisconfigured))
        case .transient:
            let backoff = Self.backoff(afterFailures: leased.grant.refreshFailures + 1)
            return store(.transient(notBefore: now.addingTimeInterval(backoff), answerLost: error.mayHaveReachedUpstream),
                         detail: "\(error.description); next try in \(Int(backoff)) s", leased: leased, insisting: false,
                         then: done(.transient(retryAfter: backoff)))
        }
    }

    /// The write of ``Action/storeResult(_:detail:grant:insisting:)`` was made (`written`) or refused (a
    /// revoked grant or, for new tokens, a replaced credential; for other outcomes also a lost lease or a moved
    /// version). Refused new tokens release the lease and read the grant again: revoked, or the newer credential.
    public mutating func resultStored(_ written: Bool) -> Action {
        guard case .storing(let leased, let write, let result) = state, let provider = leased.provider else { invalid("resultStored") }
        switch write {
        case .refreshed:
            guard written else {
                // Revoked, or its credential replaced (a re-authorization, another holder's refresh) while the upstream
                // answered: the lease is given up and the grant read again to tell which.
                return go(Next(state: .releasingLease(then: Next(state: .readingAfterRefusedTokens, action: .readGrant)),
                               action: .releaseLease))
            }
            if provider.lastError != nil {
                state = .recordingProviderError(then: result)
                return .recordProviderError(providerID: provider.id, message: nil)
            }
            return finish(result)
        case .providerMisconfigured:
            state = .recordingProviderError(then: result)
            return .recordProviderError(providerID: provider.id, message: result.message)
        case .needsReauth, .transient:
            return finish(result)
        }
    }

    /// The provider's error was recorded (or recording it failed).
    public mutating func providerErrorRecorded() -> Action {
        guard case .recordingProviderError(let result) = state else { invalid("providerErrorRecorded") }
        return finish(result)
    }

    // MARK: - Rules

    /// Whether `info` needs a refresh at `now`: expired or within the `skew` window, which is at most half the
    /// token's lifetime. Unknown expiry never does.
    public static func needsRefresh(_ info: UpstreamCredentialInfo, at now: Date, skew: TimeInterval) -> Bool {
        guard let expiry = info.accessExpiresAt else { return false }
        var window = skew
        if let obtained = info.obtainedAt {
            window = min(skew, max(0, expiry.timeIntervalSince(obtained)) / 2)
        }
        return expiry.timeIntervalSince(now) <= window
    }

    /// Seconds to wait after `failures` consecutive transient failures: 1, 2, 4, 8, 16, then 30 at most.
    public static func backoff(afterFailures failures: Int) -> TimeInterval {
        min(30, pow(2, Double(min(max(failures, 1), 6) - 1)))
    }

    /// What a `needs-reauth` grant says about why.
    public static func needsReauthReason(_ error: UpstreamError, interruptedAttemptAt: Date?) -> String {
        guard let interrupted = interruptedAttemptAt else {
            return "the upstream refused the refresh token (\(error.message)); the user must authorize again"
        }
        let at = ISO8601DateFormatter().string(from: interrupted)
        return "the upstream refused the refresh token (\(error.message)) right after an earlier refresh attempt, sent at \(at), "
            + "was interrupted before its answer was stored (the process making it stopped, or the connection failed after the "
            + "request had gone out); the upstream had most likely rotated the refresh token then, so the user must authorize again"
    }

    // MARK: - Steps

    /// After the freshness check: a backoff in force, or on to the lease.
    private mutating func afterFreshness(_ grant: Grant, now: Date) -> Action {
        if !force, let notBefore = grant.refreshNotBefore, notBefore > now {
            let why = grant.lastRefreshOutcome == .providerMisconfigured ? "the provider refused Tollgate's client" : "transient failure(s)"
            return finish(.failure(.transient(retryAfter: notBefore.timeIntervalSince(now)),
                                   "backing off after \(grant.refreshFailures) failed attempt(s): \(why)"))
        }
        state = .takingLease(Waiting(seenVersion: grant.version))
        return .takeLease(replacing: nil)
    }

    /// The version has not moved: take over a holder gone from this host, give up at the deadline, or try again.
    private mutating func keepWaiting(_ waiting: Waiting, lease: RefreshLeaseState, holderIsGone: Bool,
                                      at instant: ContinuousClock.Instant) -> Action {
        let staleHolder = holderIsGone ? lease.owner.flatMap { LeaseHolder($0) }?.description : nil
        if let deadline, instant > deadline {
            return finish(.failure(.transient(retryAfter: inFlightRetryAfter), "another process holds the refresh lease"))
        }
        state = .takingLease(waiting)
        return .takeLease(replacing: staleHolder)
    }

    /// The result another holder left on `grant`, reused instead of calling upstream again; a success's
    /// credential comes from `sealed` when the lease brought it, else it is read.
    private func resultRecorded(on grant: Grant, now: Date, sealed: SealedCredential?) -> Next {
        if grant.state == .revoked { return finishing(.failure(.notRefreshable(.revoked), "the grant was revoked")) }
        switch grant.lastRefreshOutcome {
        case .succeeded?:
            let reusing = State.reusingCredential(message: "refreshed by a concurrent caller")
            return Next(state: reusing, action: sealed.map(Action.openCredential) ?? .readCredential)
        case .needsReauth?:
            return finishing(.failure(.needsReauth, grant.stateReason ?? "the upstream refused the refresh token"))
        case .providerMisconfigured?:
            return finishing(.failure(.providerMisconfigured, "the provider is misconfigured"))
        case .transient?, nil:
            let wait = grant.refreshNotBefore.map { max(1, $0.timeIntervalSince(now)) } ?? 5
            return finishing(.failure(.transient(retryAfter: wait), "the upstream is unavailable"))
        }
    }

    private mutating func store(_ write: RefreshWrite, detail: String, leased: RefreshLeaseAcquisition, insisting: Bool,
                                then result: RefreshResult) -> Action {
        state = .storing(leased, write, then: result)
        return .storeResult(write, detail: detail, grant: leased.grant, insisting: insisting)
    }

    private mutating func releaseAndFinish(_ result: RefreshResult) -> Action {
        go(Next(state: .releasingLease(then: finishing(result)), action: .releaseLease))
    }

    private func finishing(_ result: RefreshResult) -> Next { Next(state: .finished, action: .finish(result)) }

    private mutating func finish(_ result: RefreshResult) -> Action { go(finishing(result)) }

    private mutating func go(_ next: Next) -> Action {
        state = next.state
        return next.action
    }

    private func invalid(_ event: String) -> Never {
        preconditionFailure("refresh state machine: \(event) in state \(state)")
    }
}
