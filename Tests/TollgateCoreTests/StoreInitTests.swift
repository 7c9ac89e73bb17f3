import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// A SQLite store comes into being only on purpose (`tollgate store init`, `--create`, `tollgate demo`): a
/// mistyped `--db` is one clear line, and nothing is created at it.
@Suite("store init and missing stores (built binary)")
struct StoreInitTests {
    /// A fresh temporary directory, removed after `body`.
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "tg-init-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    /// Whether anything (a symbolic link included) is at `path`.
    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    static func missing(_ path: String) -> String {
        "tollgate: error: no store at \(path); create one with `tollgate store init --db \(path)` (or pass --create)\n"
    }

    @Test func aMissingStoreIsOneLineExitOneAndNothingIsCreated() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let typo = directory + "/typo.sqlite"
            let deeper = directory + "/no/such/dir/tollgate.sqlite"
            let commands: [[String]] = [["server", "list"], ["grant", "list"], ["audit"], ["store", "purge"], ["client", "list"],
                                        ["server", "add", "mail", "--upstream-mcp", "http://127.0.0.1:9/mcp"],
                                        ["serve", "--listen", "127.0.0.1:0"]]
            for path in [typo, deeper] {
                for command in commands {
                    let r = try await CLI.run(binary, command + ["--db", path], timeout: 30)
                    #expect(r.status == 1, "\(command): \(r.stdout)\(r.stderr)")
                    #expect(r.stderr == Self.missing(path), "\(command)")
                    #expect(r.stdout.isEmpty, "\(command): \(r.stdout)")
                }
                // TOLLGATE_DB names a store the same way.
                let fromEnvironment = try await CLI.run(binary, ["server", "list"], environment: ["TOLLGATE_DB": path])
                #expect(fromEnvironment.status == 1 && fromEnvironment.stderr == Self.missing(path), "\(fromEnvironment.stderr)")
                for file in [path, path + "-wal", path + "-shm", MasterKey.keyFilePath(forDatabaseAt: path)] {
                    #expect(!exists(file), "\(file) was created")
                }
            }
            #expect(!exists(directory + "/no"), "no directory was created")
        }
    }

    @Test func storeInitCreatesTheStoreAndItsKeyFile0600AndRefusesAnExistingStore() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let database = directory + "/sub/tollgate.sqlite"
            let keyFile = MasterKey.keyFilePath(forDatabaseAt: database)
            let made = try await CLI.run(binary, ["store", "init", "--db", database])
            #expect(made.status == 0, "\(made.stderr)")
            #expect(made.stdout.contains(database), "\(made.stdout)")
            for path in [database, keyFile] {
                #expect(try mode(path) == 0o600, "\(path)")
            }
            let key = try String(contentsOfFile: keyFile, encoding: .utf8)
            let listed = try await CLI.run(binary, ["server", "list", "--db", database])
            #expect(listed.status == 0, "\(listed.stderr)")
            let again = try await CLI.run(binary, ["store", "init", "--db", database])
            #expect(again.status == 1, "\(again.stdout)\(again.stderr)")
            #expect(again.stderr == "tollgate: error: there is already a store at \(database); store init only creates new ones\n")
            #expect(try String(contentsOfFile: keyFile, encoding: .utf8) == key, "the key file is left alone")
        }
    }

    @Test func createMakesTheStoreForAnyCommand() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let database = directory + "/tollgate.sqlite"
            let added = try await CLI.run(binary, ["server", "add", "mail", "--upstream-mcp", "http://127.0.0.1:9/mcp", "--db", database, "--create"])
            #expect(added.status == 0, "\(added.stderr)")
            #expect(try mode(database) == 0o600 && mode(MasterKey.keyFilePath(forDatabaseAt: database)) == 0o600)
            let listed = try await CLI.run(binary, ["server", "list", "--db", database])
            #expect(listed.status == 0 && listed.stdout.contains("mail"), "\(listed.stdout)\(listed.stderr)")
            // --create on an existing store changes nothing.
            let again = try await CLI.run(binary, ["server", "list", "--db", database, "--create"])
            #expect(again.status == 0 && again.stdout.contains("mail"), "\(again.stdout)\(again.stderr)")
        }
    }

    @Test func storeCopyRefusesAMissingSource() async throws {
        let binary = try CLI.binary()
        try await withDirectory { directory in
            let source = directory + "/typo.sqlite", target = directory + "/new.sqlite"
            let r = try await CLI.run(binary, ["store", "copy", "--from", source, "--to", target])
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            #expect(r.stderr == "tollgate: error: no store at \(source)\n", "\(r.stderr)")
            for file in [source, MasterKey.keyFilePath(forDatabaseAt: source), target, MasterKey.keyFilePath(forDatabaseAt: target)] {
                #expect(!exists(file), "\(file) was created")
            }
        }
    }
}
