import Foundation
import Testing
import TollgateCore
import TollgateSQLite
import TollgateStores
import TollgateTestSupport

/// The SQLite store and its key file on disk: created 0600 without following a symbolic link; a symlinked store
/// or key file, or a key file open to group or others, is refused with one line naming the path (never the key).
@Suite("store and key files: modes and symbolic links")
struct StoreFileSafetyTests {
    /// A fresh temporary directory, removed after `body`.
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "tg-files-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// Whether anything (a symbolic link included) is at `path`.
    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates a store and its key file at `database` with the CLI; returns the key file's text.
    func makeStore(_ binary: String, _ database: String) async throws -> String {
        let made = try await CLI.run(binary, ["store", "init", "--db", database])
        #expect(made.status == 0, "\(made.stderr)")
        return try String(contentsOfFile: MasterKey.keyFilePath(forDatabaseAt: database), encoding: .utf8)
    }

    @Test func aDanglingDatabaseSymlinkIsRefusedAndNothingIsCreatedAtItsTarget() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let target = directory + "/elsewhere/tg.sqlite"
            try FileManager.default.createDirectory(atPath: directory + "/elsewhere", withIntermediateDirectories: true)
            let link = directory + "/tg.sqlite"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let refused = try await CLI.run(binary, ["server", "list", "--db", link])
            #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains(link) && refused.stderr.contains("symbolic link"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
            #expect(!exists(target) && !exists(target + "-wal") && !exists(MasterKey.keyFilePath(forDatabaseAt: link)))
            #expect(throws: TollgateError.self) { _ = try SQLiteStore(path: link) }
            #expect(!exists(target))
            // A link to a real store is refused too.
            let real = directory + "/real.sqlite"
            _ = try await makeStore(binary, real)
            let toReal = directory + "/to-real.sqlite"
            try FileManager.default.createSymbolicLink(atPath: toReal, withDestinationPath: real)
            let alsoRefused = try await CLI.run(binary, ["server", "list", "--db", toReal])
            #expect(alsoRefused.status == 1 && alsoRefused.stderr.contains("symbolic link"), "\(alsoRefused.stderr)")
        }
    }

    @Test func aKeyFileThatIsASymlinkIsRefusedEvenToAValidKey() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let database = directory + "/tg.sqlite"
            let keyFile = MasterKey.keyFilePath(forDatabaseAt: database)
            let key = try await makeStore(binary, database)
            // Someone else's key, valid and private, put in place by a link.
            let chosen = directory + "/chosen.key"
            try FileManager.default.moveItem(atPath: keyFile, toPath: chosen)
            try FileManager.default.createSymbolicLink(atPath: keyFile, withDestinationPath: chosen)
            let refused = try await CLI.run(binary, ["server", "list", "--db", database])
            #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains(keyFile) && refused.stderr.contains("symbolic link"), "\(refused.stderr)")
            #expect(!refused.stderr.contains(key.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(throws: TollgateError.self) { _ = try MasterKey.load(forDatabaseAt: database, environment: [:]) }
            // A key file the admin names is theirs to place: a link to it is followed (secret volumes are links, and
            // readable by the container's other users: 0444), but one that others may write is refused.
            try FileManager.default.removeItem(atPath: keyFile)
            try FileManager.default.createSymbolicLink(atPath: directory + "/given.key", withDestinationPath: chosen)
            #expect(chmod(chosen, 0o444) == 0)
            let given = try await CLI.run(binary, ["server", "list", "--db", database, "--master-key-file", directory + "/given.key"])
            #expect(given.status == 0, "\(given.stderr)")
            #expect(chmod(chosen, 0o666) == 0)
            let writable = try await CLI.run(binary, ["server", "list", "--db", database, "--master-key-file", directory + "/given.key"])
            #expect(writable.status == 1 && writable.stderr.contains("may be written by group or others"), "\(writable.stderr)")
            #expect(chmod(chosen, 0o600) == 0)
            let direct = try await CLI.run(binary, ["server", "list", "--db", database, "--master-key-file", chosen])
            #expect(direct.status == 0, "\(direct.stderr)")
        }
    }

    @Test func aDanglingKeyFileSymlinkIsACleanErrorNotACrash() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let database = directory + "/tg.sqlite"
            let keyFile = MasterKey.keyFilePath(forDatabaseAt: database)
            _ = try await makeStore(binary, database)
            try FileManager.default.removeItem(atPath: keyFile)
            try FileManager.default.createSymbolicLink(atPath: keyFile, withDestinationPath: directory + "/nowhere/tg.key")
            let refused = try await CLI.run(binary, ["server", "list", "--db", database])
            // Exit status 1 (CLI.Result reports 128 + N for a signal: 139 was the endless recursion's SIGSEGV).
            #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains(keyFile) && refused.stderr.contains("symbolic link"), "\(refused.stderr)")
            #expect(!exists(directory + "/nowhere"))
        }
    }

    @Test func aKeyFileOpenToGroupOrOthersIsRefusedWithTheChmodToRun() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let database = directory + "/tg.sqlite"
            let keyFile = MasterKey.keyFilePath(forDatabaseAt: database)
            let key = try await makeStore(binary, database)
            for open in [0o644, 0o640, 0o604, 0o660] {
                #expect(chmod(keyFile, mode_t(open)) == 0)
                let refused = try await CLI.run(binary, ["server", "list", "--db", database])
                #expect(refused.status == 1, "mode \(String(open, radix: 8)): \(refused.stdout)\(refused.stderr)")
                #expect(refused.stderr.contains("chmod 600 \(keyFile)"), "\(refused.stderr)")
                #expect(!refused.stderr.contains(key.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            // Catches the mode test weakened to "other bits only" (0640 above) or to "exactly 0600" (0400 here).
            #expect(chmod(keyFile, 0o400) == 0)
            #expect(try await CLI.run(binary, ["server", "list", "--db", database]).status == 0)
        }
    }

    @Test func aFreshStoreItsWALFilesAndItsKeyFileAre0600() async throws {
        try await withDirectory { directory in
            let database = directory + "/tg.sqlite"
            let tollgate = try await Tollgate.open(.sqlite(path: database), environment: [:])
            _ = try await tollgate.admin.addServer(NewServer(slug: "files", name: "Files", upstreamMCPURL: "http://127.0.0.1:9/mcp",
                                                             scopes: ["files.read"]))
            for path in [database, database + "-wal", database + "-shm", MasterKey.keyFilePath(forDatabaseAt: database)] {
                #expect(try mode(path) == 0o600, "\(path)")
            }
            await tollgate.shutdown()
        }
    }
}
