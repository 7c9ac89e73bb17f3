@preconcurrency import Crypto
import Foundation

/// The key that wraps the data-encryption keys stored in the database.
///
/// Taken from `TOLLGATE_MASTER_KEY` (base64 of 32 bytes) or from the key file beside the database
/// (`<database>.key`), which is created with mode 0600 on first use.
public struct MasterKey: Sendable {
    public let key: SymmetricKey

    public init(_ key: SymmetricKey) { self.key = key }

    /// The environment variable that carries the master key.
    public static let environmentVariable = "TOLLGATE_MASTER_KEY"

    /// Loads the master key for the database at `databasePath` from `environment` or the key file.
    public static func load(forDatabaseAt databasePath: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MasterKey {
        if let encoded = environment[environmentVariable], !encoded.isEmpty {
            guard let bytes = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
                throw TollgateError(.crypto, "\(environmentVariable) must be base64 of exactly 32 bytes")
            }
            return MasterKey(SymmetricKey(data: bytes))
        }
        return try loadOrCreateFile(at: keyFilePath(forDatabaseAt: databasePath))
    }

    /// Loads the master key for the store at `location`: from `keyFile` when given (it must exist), else from
    /// `TOLLGATE_MASTER_KEY`, else — for SQLite only — from the key file beside the database (created on first
    /// use). A PostgreSQL store has no file beside it: without the key given, this throws a `.crypto` error that
    /// says how to give it (every instance must use the same key; it is never stored in the database).
    public static func load(for location: StoreLocation, keyFile: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MasterKey {
        if let keyFile { return try read(keyFile: keyFile) }
        switch location {
        case .sqlite(let path):
            return try load(forDatabaseAt: path, environment: environment)
        case .postgres:
            if let encoded = environment[environmentVariable], !encoded.isEmpty {
                return try load(forDatabaseAt: "", environment: environment)
            }
            throw TollgateError(.crypto, "a PostgreSQL store needs the master key: set \(environmentVariable) (base64 of 32 bytes) or pass --master-key-file PATH, the same on every instance")
        }
    }

    /// Reads an existing key file (base64 of 32 bytes).
    public static func read(keyFile path: String) throws -> MasterKey {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TollgateError(.crypto, "the key file \(path) does not exist")
        }
        return try loadOrCreateFile(at: path)
    }

    /// Where the key file of a database lives.
    public static func keyFilePath(forDatabaseAt databasePath: String) -> String { databasePath + ".key" }

    private static func loadOrCreateFile(at path: String) throws -> MasterKey {
        if FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
                throw TollgateError(.crypto, "the key file \(path) is not base64 of 32 bytes")
            }
            return MasterKey(SymmetricKey(data: bytes))
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return try loadOrCreateFile(at: path) }
            throw TollgateError(.crypto, "cannot create the key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw TollgateError(.crypto, "cannot write the key file \(path)")
        }
        return MasterKey(key)
    }

    /// Wraps a data key for storage, bound to its id.
    func wrap(_ dataKey: SymmetricKey, id: UInt32) throws -> Data {
        let raw = dataKey.withUnsafeBytes { Data($0) }
        return try AES.GCM.seal(raw, using: key, authenticating: Data("tollgate/dek|\(id)".utf8)).combined!
    }

    /// Unwraps a stored data key; a wrong master key fails here with a clear error.
    func unwrap(_ wrapped: Data, id: UInt32) throws -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped)
            return SymmetricKey(data: try AES.GCM.open(box, using: key, authenticating: Data("tollgate/dek|\(id)".utf8)))
        } catch {
            throw TollgateError(.crypto, "the master key does not open data key \(id): wrong \(Self.environmentVariable) or key file for this database")
        }
    }
}
