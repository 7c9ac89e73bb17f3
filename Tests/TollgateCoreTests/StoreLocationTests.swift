import Foundation
import Testing
import TollgateCore

@Suite("--db locations")
struct StoreLocationTests {
    @Test func pathsAndSQLiteURLsAreFiles() throws {
        #expect(try StoreLocation.parse("/var/lib/tollgate/t.sqlite") == .sqlite(path: "/var/lib/tollgate/t.sqlite"))
        #expect(try StoreLocation.parse("relative/t.sqlite") == .sqlite(path: "relative/t.sqlite"))
        #expect(try StoreLocation.parse("sqlite:/tmp/t.sqlite") == .sqlite(path: "/tmp/t.sqlite"))
        #expect(try StoreLocation.parse("sqlite:///tmp/t.sqlite") == .sqlite(path: "/tmp/t.sqlite"))
        #expect(throws: TollgateError.self) { try StoreLocation.parse("sqlite:") }
        #expect(throws: TollgateError.self) { try StoreLocation.parse("") }
    }

    @Test func postgresURLsAreParsedWithLibpqDefaults() throws {
        let full = try StoreLocation.parse("postgres://tg@db.internal:6432/tollgate?sslmode=verify-full")
        #expect(full == .postgres(PostgresLocation(host: "db.internal", port: 6432, database: "tollgate", user: "tg", sslMode: .verifyFull)))
        let short = try StoreLocation.parse("postgresql://127.0.0.1/tollgate", environment: ["PGUSER": "svc"])
        #expect(short == .postgres(PostgresLocation(host: "127.0.0.1", port: 5432, database: "tollgate", user: "svc", sslMode: .prefer)))
        for mode in PostgresLocation.SSLMode.allCases {
            guard case .postgres(let l) = try StoreLocation.parse("postgres://u@h/d?sslmode=\(mode.rawValue)") else { Issue.record(); continue }
            #expect(l.sslMode == mode)
        }
    }

    @Test func sslrootcertNamesTheCAOfVerifyFullAndSurvivesTheCommandLine() throws {
        let text = "postgres://tg@db:5432/tollgate?sslmode=verify-full&sslrootcert=/etc/tollgate/ca%26roots.pem"
        guard case .postgres(let location) = try StoreLocation.parse(text) else { Issue.record(); return }
        #expect(location.sslRootCertificate == "/etc/tollgate/ca&roots.pem")
        #expect(location.sslMode == .verifyFull)
        // The command line names it again, and reads back to the same location.
        let commandLine = StoreLocation.postgres(location).commandLine
        #expect(commandLine.contains("sslrootcert="))
        #expect(try StoreLocation.parse(commandLine) == .postgres(location))
        // Without it, verify-full trusts the system roots.
        guard case .postgres(let system) = try StoreLocation.parse("postgres://tg@db/tollgate?sslmode=verify-full") else { Issue.record(); return }
        #expect(system.sslRootCertificate == nil)
    }

    @Test func sslrootcertWithAModeThatVerifiesNothingIsRefused() {
        for mode in ["disable", "prefer", "require"] {
            do {
                _ = try StoreLocation.parse("postgres://u@h/d?sslmode=\(mode)&sslrootcert=/ca.pem")
                Issue.record("sslmode=\(mode) with sslrootcert: accepted")
            } catch let error as TollgateError {
                #expect(error.message.contains("only with sslmode=verify-full"), "\(error.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(throws: TollgateError.self) { try StoreLocation.parse("postgres://u@h/d?sslmode=verify-full&sslrootcert=") }
    }

    @Test func aURLIsNeverMistakenForAFile() {
        for text in ["mysql://u@h/db", "postgress://u@h/db", "http://h/db", "file://x"] {
            #expect(throws: TollgateError.self, "\(text)") { try StoreLocation.parse(text) }
        }
    }

    @Test func badPostgresURLsAreRefusedWithoutRepeatingThem() {
        let cases = [
            "postgres://u:hunter2@h/db": "must not contain a password",
            "postgres://u@h": "must name a database",
            "postgres://u@h/db?sslmode=verify-ca": "sslmode must be one of",
            "postgres://u@h/db?application_name=x": "unknown PostgreSQL URL parameter",
            "postgres://u@h:0/db": "port",
        ]
        for (text, expected) in cases {
            do {
                _ = try StoreLocation.parse(text)
                Issue.record("\(expected): accepted")
            } catch let error as TollgateError {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("hunter2"))
                #expect(!error.message.contains("u@h"))
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func theDescriptionNamesNeitherUserNorPassword() throws {
        let location = try StoreLocation.parse("postgres://admin@db:5433/prod?sslmode=require")
            .withPassword(file: nil, environment: ["PGPASSWORD": "s3cret"])
        guard case .postgres(let pg) = location else { Issue.record(); return }
        #expect(pg.password?.value == "s3cret")
        #expect(location.description == "postgres://db:5433/prod")
        #expect(!"\(location)".contains("admin") && !"\(location)".contains("s3cret"))
        #expect(!String(reflecting: location).contains("s3cret"))
    }

    @Test func thePasswordFileWinsOverPGPASSWORDAndMustBeReadable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tg-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("pw").path
        try "from-file\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        let base = try StoreLocation.parse("postgres://u@h/d")
        guard case .postgres(let pg) = try base.withPassword(file: file, environment: ["PGPASSWORD": "from-env"]) else { Issue.record(); return }
        #expect(pg.password?.value == "from-file")
        #expect(throws: TollgateError.self) { try base.withPassword(file: directory.appendingPathComponent("missing").path, environment: [:]) }
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: TollgateError.self) { try base.withPassword(file: file, environment: [:]) }
        // SQLite needs no password.
        #expect(try StoreLocation.sqlite(path: "/x").withPassword(file: nil, environment: ["PGPASSWORD": "p"]) == .sqlite(path: "/x"))
    }

    @Test func aPostgresStoreNeedsTheMasterKeyGiven() throws {
        let location = try StoreLocation.parse("postgres://u@h/d")
        do {
            _ = try MasterKey.load(for: location, keyFile: nil, environment: [:])
            Issue.record("loaded a key from nowhere")
        } catch let error as TollgateError {
            #expect(error.code == .crypto)
            #expect(error.message.contains("TOLLGATE_MASTER_KEY") && error.message.contains("--master-key-file"))
        }
        let encoded = Data(repeating: 7, count: 32).base64EncodedString()
        _ = try MasterKey.load(for: location, keyFile: nil, environment: [MasterKey.environmentVariable: encoded])
        #expect(throws: TollgateError.self) { try MasterKey.load(for: location, keyFile: "/nonexistent/key", environment: [:]) }
    }
}
