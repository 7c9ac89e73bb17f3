import Crypto
import Foundation
import TollgateCore
import TollgateStores
import TollgateTestSupport

/// A store engine the benchmarks run on: SQLite always, PostgreSQL when `TOLLGATE_BENCH_POSTGRES_URL` (or the
/// tests' `TOLLGATE_TEST_POSTGRES_URL`) names a server (password in `PGPASSWORD`); each fixture gets a fresh
/// database there, dropped afterwards.
enum BenchBackend: Sendable {
    case sqlite
    case postgres(server: String)

    static let postgresVariable = "TOLLGATE_BENCH_POSTGRES_URL"

    var name: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }

    static func available(environment: [String: String] = ProcessInfo.processInfo.environment) -> [BenchBackend] {
        let url = environment[postgresVariable] ?? environment["TOLLGATE_TEST_POSTGRES_URL"]
        return [.sqlite] + (url.flatMap { $0.isEmpty ? nil : [.postgres(server: $0)] } ?? [])
    }

    /// A fresh, empty database named after `name`.
    func makeDatabase(_ name: String) async throws -> BenchDatabase {
        switch self {
        case .sqlite:
            let dir = NSTemporaryDirectory() + "tollgate-bench-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return BenchDatabase(location: .sqlite(path: dir + "/\(name).sqlite"), drop: { try? FileManager.default.removeItem(atPath: dir) })
        case .postgres(let server):
            let database = try await PostgresTestServer.freshDatabase(on: server, prefix: "tollgate_bench_\(name)_")
            let location = try StoreLocation.parse(database.url).withPassword(file: nil)
            return BenchDatabase(location: location, drop: { await database.drop() })
        }
    }
}

/// One benchmark database and how to get rid of it.
struct BenchDatabase: Sendable {
    let location: StoreLocation
    let drop: @Sendable () async -> Void
    /// Every fixture shares one master key (PostgreSQL needs it given; SQLite would make a key file).
    static let masterKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }

    func open(clock: any TollgateClock = SystemClock()) async throws -> Tollgate {
        try await Tollgate.open(location, clock: clock, environment: [MasterKey.environmentVariable: Self.masterKey])
    }

    func remove() async { await drop() }
}

/// Figures of the run, per store engine, printed side by side at the end.
final class Report: @unchecked Sendable {
    static let shared = Report()
    /// The engine the figures being reported belong to.
    var backend = "SQLite"
    private var names: [String] = []
    private var values: [String: [String: String]] = [:]

    func add(_ name: String, _ value: String) {
        Swift.print(("[\(backend)] " + name).padding(toLength: 70, withPad: " ", startingAt: 0) + " " + value)
        if values[name] == nil { names.append(name) }
        values[name, default: [:]][backend] = value
    }

    /// The table: one row per figure, one column per engine.
    func print(_ backends: [String]) {
        Swift.print("\n==== side by side ====")
        Swift.print("figure".padding(toLength: 62, withPad: " ", startingAt: 0) + backends.map { $0.padding(toLength: 28, withPad: " ", startingAt: 0) }.joined())
        for name in names {
            Swift.print(name.padding(toLength: 62, withPad: " ", startingAt: 0)
                        + backends.map { (values[name]?[$0] ?? "-").padding(toLength: 28, withPad: " ", startingAt: 0) }.joined())
        }
    }
}

func report(_ name: String, _ value: String) {
    Report.shared.add(name, value)
}
