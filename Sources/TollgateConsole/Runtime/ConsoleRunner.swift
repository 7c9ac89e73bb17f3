import Foundation
import Synchronization
import TollgateCore

/// Carries out the reducer's effects against the core, off the UI thread, and posts the results back.
///
/// Loads run on lanes, one per kind of load; a lane runs one load at a time and keeps only the newest
/// waiting one (an older one's answer would be dropped as stale anyway), so a burst of keys or changes
/// never queues up work. Refreshes and revocations each run in their own task.
public final class ConsoleRunner: Sendable {
    let tollgate: Tollgate
    let themes: ThemeLibrary
    let post: @Sendable (ConsoleEvent) -> Void
    private let lanes: [String: Lane]
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    /// Jobs running (bulk actions, exports), by number: `cancelJob` cancels the task.
    private let jobs = Mutex<[Int: Task<Void, Never>]>([:])
    /// At most this often a job's progress is posted (every post is a frame).
    static let progressInterval: TimeInterval = 0.1

    public init(tollgate: Tollgate, themes: ThemeLibrary, post: @escaping @Sendable (ConsoleEvent) -> Void) {
        self.tollgate = tollgate
        self.themes = themes
        self.post = post
        var lanes: [String: Lane] = [:]
        for name in ["grants", "count", "plan", "servers", "providers", "clients", "audit", "detail", "wellKnown", "theme"] {
            lanes[name] = Lane()
        }
        self.lanes = lanes
    }

    /// Starts carrying out `effect`; its answer arrives through `post`.
    public func perform(_ effect: ConsoleEffect) {
        let admin = tollgate.admin
        switch effect {
        case .forceRefresh(let grantID):
            let post = self.post
            Task.detached {
                do {
                    let result = try await admin.forceRefresh(grantID: grantID)
                    post(.refreshed(grantID: grantID, RefreshSummary(result)))
                } catch {
                    post(.actionFailed(grantID: grantID, action: "refresh", message: Self.describe(error)))
                }
            }
        case .revoke(let grantID, let upstream):
            let post = self.post
            Task.detached {
                do {
                    let note = try await admin.revokeGrant(id: grantID, upstream: upstream)
                    post(.revoked(grantID: grantID, note: note))
                } catch {
                    post(.actionFailed(grantID: grantID, action: "revoke", message: Self.describe(error)))
                }
            }
        case .runBulk(let job, let action, let scope, let upstream):
            let post = self.post
            let throttle = ProgressThrottle(interval: Self.progressInterval)
            start(job) {
                do {
                    let report: @Sendable (BulkProgress) -> Void = { p in
                        if throttle.due() { post(.jobProgress(job: job, done: p.done, total: p.total, failed: p.failed)) }
                    }
                    let result = action == .revoke
                        ? try await admin.revokeGrants(scope, upstream: upstream, progress: report)
                        : try await admin.refreshGrants(scope, progress: report)
                    post(.bulkFinished(job: job, result))
                } catch {
                    post(.jobFailed(job: job, message: "bulk \(action.rawValue) of \(scope) failed: \(Self.describe(error))"))
                }
            }
        case .export(let job, let format, let path, let overwrite, let query):
            let post = self.post
            let writer = GrantExportWriter(admin: admin, clock: tollgate.clock)
            let throttle = ProgressThrottle(interval: Self.progressInterval)
            start(job) {
                do {
                    let total = try await admin.countGrants(query, upTo: Int.max)
                    post(.jobProgress(job: job, done: 0, total: total, failed: 0))
                    let (rows, cancelled) = try await writer.write(format, query: query, to: path, overwrite: overwrite) { rows in
                        if throttle.due() { post(.jobProgress(job: job, done: rows, total: nil, failed: 0)) }
                    }
                    post(.exportFinished(job: job, rows: rows, cancelled: cancelled))
                } catch {
                    post(.jobFailed(job: job, message: "export failed: \(Self.describe(error))"))
                }
            }
        case .cancelJob(let job):
            jobs.withLock { $0[job] }?.cancel()
        case .revokeClient(let clientID):
            let post = self.post
            Task.detached {
                do {
                    post(.clientRevoked(clientID: clientID, grants: try await admin.revokeClient(id: clientID)))
                } catch {
                    post(.clientRevokeFailed(clientID: clientID, message: Self.describe(error)))
                }
            }
        case .copy, .quit:
            // The loop writes the clipboard sequence to the terminal itself.
            break
        default:
            guard let lane = lanes[Self.lane(of: effect)] else { return }
            lane.submit { [self] in
                if let event = await self.answer(effect) { self.post(event) }
            }
        }
    }

    static func lane(of effect: ConsoleEffect) -> String {
        switch effect {
        case .loadGrants: return "grants"
        case .countGrants: return "count"
        case .loadServers: return "servers"
        case .loadProviders: return "providers"
        case .loadClients: return "clients"
        case .loadAudit: return "audit"
        case .loadDetail: return "detail"
        case .loadWellKnown: return "wellKnown"
        case .loadTheme: return "theme"
        case .planBulk: return "plan"
        case .forceRefresh, .revoke, .runBulk, .revokeClient, .export, .cancelJob, .copy, .quit: return ""
        }
    }

    /// The answer to a load (or theme) effect, computed on the calling thread; `nil` for actions.
    /// The benchmark and the tests call this directly to drive the reducer synchronously.
    public func answer(_ effect: ConsoleEffect) async -> ConsoleEvent? {
        let admin = tollgate.admin
        var requestID = 0
        do {
            switch effect {
            case .loadGrants(let request, let query):
                requestID = request
                return .grants(request: request, try await admin.grants(query))
            case .countGrants(let request, let query, let limit):
                requestID = request
                return .grantCount(request: request, try await admin.countGrants(query, upTo: limit))
            case .loadServers(let request):
                requestID = request
                let providers = Dictionary(try await admin.providers().map { ($0.server.id, $0.provider) }, uniquingKeysWith: { a, _ in a })
                return .servers(request: request, try await admin.servers().map { ServerEntry(server: $0, provider: providers[$0.id]) })
            case .loadProviders(let request):
                requestID = request
                let health = try await admin.refreshHealth()
                return .providers(request: request, try await admin.providers().map {
                    ServerEntry(server: $0.server, provider: $0.provider, health: health[$0.server.id])
                })
            case .loadClients(let request, let slug, let after, let limit):
                requestID = request
                let slugs = Dictionary(try await admin.servers().map { ($0.id, $0.slug) }, uniquingKeysWith: { a, _ in a })
                let page = try await admin.clients(serverSlug: slug, limit: limit, after: after)
                return .clients(request: request, page.items.map { ClientEntry(client: $0, serverSlug: slugs[$0.serverID] ?? "?") },
                                nextCursor: page.nextCursor)
            case .loadAudit(let request, let query):
                requestID = request
                let events = try await admin.audit(query)
                return .audit(request: request, events, nextBefore: events.count == query.limit ? events.last?.id : nil)
            case .loadDetail(let request, let grantID):
                requestID = request
                return .detail(request: request, GrantInfo(try await admin.grantDetail(id: grantID)))
            case .loadWellKnown(let request, let slug):
                requestID = request
                let urls = try await admin.publicURLs()
                return .wellKnown(request: request, WellKnownDocuments(
                    serverSlug: slug,
                    authorizationServerURL: urls.authorizationServerMetadata(slug),
                    authorizationServer: try await admin.wellKnown(serverSlug: slug, .authorizationServer, urls: urls),
                    protectedResourceURL: urls.protectedResourceMetadata(slug),
                    protectedResource: try await admin.wellKnown(serverSlug: slug, .protectedResource, urls: urls)))
            case .loadTheme(let name):
                do {
                    return .theme(try themes.load(name))
                } catch {
                    return .themeFailed(error)
                }
            case .planBulk(let request, let action, let scope):
                requestID = request
                return .bulkPlanned(request: request, try await admin.planBulk(action, scope, listing: 0))
            case .forceRefresh, .revoke, .runBulk, .revokeClient, .export, .cancelJob, .copy, .quit:
                return nil
            }
        } catch {
            return .loadFailed(request: requestID, message: Self.describe(error))
        }
    }

    /// Posts `.dataChanged` whenever another process commits to the store, checking every `interval`
    /// seconds with SQLite's `data_version` (one cheap pragma; nothing is read unless it changed). The audit
    /// view answers it with a tail load (only events newer than the newest shown).
    public func startWatching(interval: TimeInterval = 0.5) async {
        let store = tollgate.store
        let post = self.post
        // The baseline is read now, before the first loads: a change after it is never missed.
        let baseline = try? await store.dataVersion()
        let task = Task.detached {
            var last = baseline
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                guard let version = try? await store.dataVersion() else { continue }
                if let previous = last, previous != version { post(.dataChanged) }
                last = version
            }
        }
        watcher.withLock { $0?.cancel(); $0 = task }
    }

    /// Stops watching the store, and cancels any job still running.
    public func stop() {
        watcher.withLock { $0?.cancel(); $0 = nil }
        for task in jobs.withLock({ Array($0.values) }) { task.cancel() }
    }

    /// Runs job `id` in a task of its own, remembered until it ends so that it can be cancelled.
    private func start(_ id: Int, _ work: @escaping @Sendable () async -> Void) {
        // Stored under the lock the task's own removal takes: it cannot end before it is stored.
        jobs.withLock { running in
            running[id] = Task.detached { [self] in
                await work()
                _ = self.jobs.withLock { $0.removeValue(forKey: id) }
            }
        }
    }

    /// Waits until every job has ended (the tests and the benchmark use it).
    public func waitForJobs() async {
        while let task = jobs.withLock({ $0.values.first }) { await task.value }
    }

    /// One line for an error, without control characters.
    static func describe(_ error: Error) -> String {
        String(String(describing: error).map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }
}

/// A serial lane that runs one job at a time and keeps only the newest waiting job.
final class Lane: Sendable {
    typealias Job = @Sendable () async -> Void
    private let state = Mutex<(running: Bool, waiting: Job?)>((false, nil))

    func submit(_ job: @escaping Job) {
        let start = state.withLock { s -> Bool in
            if s.running {
                s.waiting = job
                return false
            }
            s.running = true
            return true
        }
        guard start else { return }
        Task.detached { [self] in
            var next: Job? = job
            while let current = next {
                await current()
                next = state.withLock { s in
                    let waiting = s.waiting
                    s.waiting = nil
                    if waiting == nil { s.running = false }
                    return waiting
                }
            }
        }
    }
}

extension ConsoleRunner {
    /// Carries out `effects` on the calling thread, feeding each answer back into `state`, until nothing is
    /// left to load: what the event loop does asynchronously, done synchronously for the benchmark and tests.
    /// Refreshes and revocations are skipped (they need the async path).
    public func settle(_ state: inout ConsoleState, _ effects: [ConsoleEffect]) async {
        var queue = effects[...]
        while let effect = queue.popFirst() {
            if let event = await answer(effect) { queue += state.apply(event) }
        }
    }
}

/// Lets a progress report through at most once per `interval`.
final class ProgressThrottle: Sendable {
    private let interval: TimeInterval
    private let last = Mutex<Date>(.distantPast)

    init(interval: TimeInterval) { self.interval = interval }

    /// Whether a report now is due (and, if so, counts it as made).
    func due() -> Bool {
        let now = Date()
        return last.withLock { last in
            guard now.timeIntervalSince(last) >= interval else { return false }
            last = now
            return true
        }
    }
}
