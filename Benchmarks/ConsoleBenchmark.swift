// The console against a big store: time to the first full screen, key-to-frame latency while scrolling,
// filter latency, and resident memory. Drives the real reducer, renderer and runner (synchronously) over a
// real store (each engine) filled with `bulkGrants`, in a process of its own.
import Foundation
import TollgateConsole
import TollgateCore
import TollgateSQLite
import Synchronization
import TollgateStores
import TollgateTestSupport

/// Resident and peak resident memory of this process, in MB (from /proc/self/status).
func residentMemory() -> (rss: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

/// A percentile of possibly no values.
func pct(_ values: [Double], _ p: Double) -> Double { values.isEmpty ? 0 : percentile(values, p) }

/// The argument that makes this executable the console's process: `console-measure LOCATION SIZE` (the master key
/// in `TOLLGATE_MASTER_KEY`, a PostgreSQL password in `PGPASSWORD`).
let consoleMeasureCommand = "console-measure"

/// Fills a store with `bulkGrants`, then measures the console over it in a fresh process of its own (as
/// `tollgate console` is one): the memory a bulk import leaves in the filling process is not the console's.
func runConsoleBenchmark(quick: Bool, backend: BenchBackend) async throws {
    let size = quick ? 100_000 : 1_000_000
    print("Console (\(size / 1000)k grants, 120×40 screen; reducer + renderer + runner, store reads included)")
    let fixture = try await Fixture(name: "console", backend: backend)
    let fill = try await seconds { try await bulkGrants(fixture.tollgate.store, serverID: fixture.server.id, clientID: fixture.client.client.id, count: size) }
    print("  (filled \(size) grants in \(String(format: "%.1f", fill)) s; measuring in a new process)")
    await fixture.tollgate.shutdown()
    // posix_spawn (TollgateTestSupport's ChildProcess): Foundation's Process.run can crash listing /proc/self/fd.
    let child: ChildProcess
    do {
        child = try ChildProcess(CommandLine.arguments[0], [consoleMeasureCommand, fixture.database.location.commandLine, String(size)],
                                 environment: ProcessInfo.processInfo.environment.merging([MasterKey.environmentVariable: BenchDatabase.masterKey]) { $1 },
                                 stdout: .pipe, stderr: .inherit)
    } catch {
        await fixture.database.remove()
        throw error
    }
    // Figures come back as "figure<TAB>name<TAB>value" lines; anything else is passed through.
    for line in String(decoding: child.standardOutput!.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        if fields.count == 3, fields[0] == "figure" { report(String(fields[1]), String(fields[2])) } else { print(line) }
    }
    child.waitUntilExit()
    // The store is hundreds of megabytes; do not leave it behind.
    await fixture.database.remove()
    if child.terminationStatus != 0 { fatalError("the console benchmark process failed (exit \(child.terminationStatus))") }
}

/// The console's process (``consoleMeasureCommand``): opens the store at `location` as `tollgate console` does and
/// measures it; prints its figures as "figure<TAB>name<TAB>value" lines.
func measureConsole(location: StoreLocation, size: Int) async throws {
    func report(_ name: String, _ value: String) { print("figure\t\(name)\t\(value)") }
    let before = residentMemory()

    // First full screen: open the store as `tollgate console` does, load the first window and the count, render.
    var state = ConsoleState(now: Date(), columns: 120, rows: 40)
    let renderer = Renderer()
    var tollgate: Tollgate?
    var runner: ConsoleRunner?
    var screen = ScreenBuffer(columns: 0, rows: 0)
    let firstScreen = try await seconds {
        let opened = try await Tollgate.open(location)
        let r = ConsoleRunner(tollgate: opened, themes: ThemeLibrary(directories: []), post: { _ in })
        await r.settle(&state, state.start())
        screen = renderer.render(state)
        (tollgate, runner) = (opened, r)
    }
    guard let tollgate, let runner, state.grants.rows.count >= 30 else { fatalError("the console did not load grants") }
    precondition(screen.columns == 120, "the first frame was not drawn at the window's size")
    precondition(state.grants.count == size, "the console counted \(state.grants.count ?? -1) grants, not \(size)")

    // As in the event loop, a key is handled and the frame drawn at once; the loads it asks for (a shifted
    // window, a count) run on the runner's lanes and their answers are applied when they arrive. Here they run
    // right after the frame, timed apart: window loads, and counts (which only update the title).
    var windowLoads: [Double] = []
    var countTimes: [Double] = []
    var waited: [Double] = []

    /// One key: the reducer and a frame (ms). Then its loads, timed separately, and the frame after them.
    func press(_ key: Key) async -> Double {
        var effects: [ConsoleEffect] = []
        let frame = await seconds {
            effects = state.handle(key)
            screen = renderer.render(state)
        } * 1000
        let isCount: (ConsoleEffect) -> Bool = { if case .countGrants = $0 { true } else { false } }
        let loads = effects.filter { !isCount($0) }, counts = effects.filter(isCount)
        var load = 0.0
        if !loads.isEmpty {
            load = await seconds {
                await runner.settle(&state, loads)
                screen = renderer.render(state)
            } * 1000
            windowLoads.append(load)
        }
        if !counts.isEmpty {
            countTimes.append(await seconds {
                await runner.settle(&state, counts)
                screen = renderer.render(state)
            } * 1000)
        }
        waited.append(frame + load)
        return frame
    }

    // Scrolling: j through 3,000 rows (the window shifts about every screen), PgDn ×300, then k back up.
    var scroll: [Double] = []
    windowLoads = []
    waited = []
    for _ in 0..<3000 { await scroll.append(press(.character("j"))) }
    for _ in 0..<300 { await scroll.append(press(.pageDown)) }
    for _ in 0..<500 { await scroll.append(press(.character("k"))) }
    for _ in 0..<300 { await scroll.append(press(.pageUp)) }
    let scrollLoads = windowLoads, scrollWaited = waited
    let bottom = await press(.character("G")) + (windowLoads.last ?? 0)
    let top = await press(.character("g")) + (windowLoads.last ?? 0)
    let deepRow = state.grants.selected?.id ?? 0

    // Filters, typed live: every keystroke re-queries the window (and, separately, the bounded count).
    func typeFilter(_ text: String) async -> (perKey: [Double], apply: Double, counts: [Double]) {
        countTimes = []
        waited = []
        _ = await press(.character("/"))
        for c in text { _ = await press(.character(c)) }
        _ = await press(.enter)
        // A filter keystroke's frame is the one with the new rows: the key, its window load, and the render.
        return (waited, waited.last ?? 0, countTimes)
    }
    // The filters: a rare subject; a prefix many of the newest grants share; a prefix shared by the oldest fifth
    // (the far end of the newest-first order); a status almost no grant has; one 1 in 24 have, spread evenly.
    let far = "corp-"
    let filters = ["user\(size - 54_321)", "user9", far, "status:needs-reauth", "status:expiring"]
    var filterRuns: [(text: String, run: (perKey: [Double], apply: Double, counts: [Double]), matches: Int)] = []
    var filteredScroll: [Double] = []
    var filteredLoads: [Double] = []
    for text in filters {
        let run = await typeFilter(text)
        filterRuns.append((text, run, state.grants.count ?? -1))
        if text == far {
            // Scrolling through the far-end prefix: every window load is a page from that prefix.
            windowLoads = []
            for _ in 0..<500 { await filteredScroll.append(press(.character("j"))) }
            for _ in 0..<50 { await filteredScroll.append(press(.pageDown)) }
            filteredLoads = windowLoads
        }
        _ = await press(.escape)
    }

    // Live data: the cost of one change check (PRAGMA data_version), and of re-reading the visible window.
    let versionChecks = try await seconds { for _ in 0..<1000 { _ = try await tollgate.store.dataVersion() } } / 1000 * 1e6
    let reload = await seconds {
        await runner.settle(&state, state.apply(.dataChanged))
        screen = renderer.render(state)
    } * 1000
    let tick = await seconds {
        _ = state.apply(.tick(state.now.addingTimeInterval(1)))
        screen = renderer.render(state)
    } * 1000
    let after = residentMemory()

    // `:export csv` of every grant (no filter), streamed from the store a page at a time.
    let exportPath = NSTemporaryDirectory() + "tollgate-export-\(UUID().uuidString).csv"
    let exported = Mutex<Int>(-1)
    let exporter = ConsoleRunner(tollgate: tollgate, themes: ThemeLibrary(directories: []), post: { event in
        if case .exportFinished(_, let rows, _) = event { exported.withLock { $0 = rows } }
    })
    let exportTime = await seconds {
        exporter.perform(.export(job: 1, format: .csv, path: exportPath, overwrite: false, query: GrantQuery(limit: 1000)))
        await exporter.waitForJobs()
    }
    let exportSize = ((try? FileManager.default.attributesOfItem(atPath: exportPath)[.size]) as? Int) ?? 0
    try? FileManager.default.removeItem(atPath: exportPath)
    let afterExport = residentMemory()
    precondition(exported.withLock { $0 } == size, "the export wrote \(exported.withLock { $0 }) rows, not \(size)")
    await tollgate.shutdown()

    func ms(_ v: Double) -> String { String(format: "%.2f ms", v) }
    func matches(_ n: Int) -> String { n >= ConsoleState.countLimit ? "\(ConsoleState.countLimit)+" : String(n) }
    report("console: first full screen (open, window, count, render)", ms(firstScreen * 1000))
    report("console: scroll key to frame p50/p99/max (\(scroll.count) keys)",
           "\(ms(pct(scroll, 0.5))) / \(ms(pct(scroll, 0.99))) / \(ms(scroll.max() ?? 0))")
    report("console:   window loads it caused (\(scrollLoads.count)), p50/p99/max",
           "\(ms(pct(scrollLoads, 0.5))) / \(ms(pct(scrollLoads, 0.99))) / \(ms(scrollLoads.max() ?? 0))")
    report("console:   key + its load, if waited for: p99/max", "\(ms(pct(scrollWaited, 0.99))) / \(ms(scrollWaited.max() ?? 0))")
    report("console: G (last row) / g (first row), with their loads", "\(ms(bottom)) / \(ms(top))")
    for (text, run, n) in filterRuns {
        // waited[0] is "/", then one entry per character typed, then Enter: name the filter text at the slowest key.
        let slowest = run.perKey.indices.max { run.perKey[$0] < run.perKey[$1] } ?? 0
        let typed = slowest == 0 ? "/" : slowest > text.count ? "Enter" : "'" + String(text.prefix(slowest)) + "'"
        report("console: filter '\(text)' (\(matches(n))): slowest key", ms(run.perKey.max() ?? 0) + " at \(typed)")
        report("console:   its counts for the title ('\(text)'), slowest (async)", ms(run.counts.max() ?? 0))
    }
    report("console: scroll within '\(far)': key to frame p50/p99/max",
           "\(ms(pct(filteredScroll, 0.5))) / \(ms(pct(filteredScroll, 0.99))) / \(ms(filteredScroll.max() ?? 0))")
    report("console:   window loads it caused (\(filteredLoads.count)), p50/max",
           "\(ms(pct(filteredLoads, 0.5))) / \(ms(filteredLoads.max() ?? 0))")
    report("console: data_version check / window reload on change", "\(String(format: "%.1f µs", versionChecks)) / \(ms(reload))")
    report("console: countdown tick (re-render)", ms(tick))
    report("console: RSS before/after/peak, the console's own process (MB)", String(format: "%.1f / %.1f / %.1f", before.rss, after.rss, after.peak))
    report("console: RSS growth during the console run (MB)", String(format: "%.1f", after.rss - before.rss))
    report("console: :export csv of all \(size / 1000)k grants", String(format: "%.1f s (%.0f rows/s, %.0f MB file)", exportTime,
           Double(size) / exportTime, Double(exportSize) / 1e6))
    report("console:   RSS after the export / peak over the whole run (MB)", String(format: "%.1f / %.1f", afterExport.rss, afterExport.peak))
    _ = deepRow
    print("targets: first screen <= 200 ms; scroll key to frame <= 16 ms; filter <= 100 ms; memory <= 64 MB")
}
