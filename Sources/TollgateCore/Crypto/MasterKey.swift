@preconcurrency import Crypto
import Foundation

/// The key that wraps the data-encryption keys stored in the database.
///
/// Taken from `TOLLGATE_MASTER_KEY` (base64 of 32 bytes) or from the key file beside the database
/// (`<database>.key`), which is created with mode 0600 on first use, never through a symbolic link. That key file
/// is refused when it is a symbolic link, not a regular file, or open to group or others: Tollgate manages it, and
/// whoever could plant a link or widen it beside the database must not choose or read the key. A key file an admin
/// names (`--master-key-file`) may be a link (secret volumes of Kubernetes and Docker are links, often 0644/0444)
/// but is refused when group or others may write it (someone else could choose the key).
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

    /// Reads an existing key file an admin named (base64 of 32 bytes), refused as ``MasterKey`` says.
    public static func read(keyFile path: String) throws -> MasterKey {
        guard let key = try readIfPresent(path, rules: .named) else {
            throw TollgateError(.crypto, "the key file \(path) does not exist")
        }
        return key
    }

    /// Where the key file of a database lives.
    public static func keyFilePath(forDatabaseAt databasePath: String) -> String { databasePath + ".key" }

    private static func loadOrCreateFile(at path: String) throws -> MasterKey {
        if let key = try readIfPresent(path) { return key }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        // O_EXCL and O_NOFOLLOW: never through a symbolic link (a dangling one included), never over another file.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            // Another process created it meanwhile: read that one, once (no recursion whatever is there now).
            if code == EEXIST, let existing = try readIfPresent(path) { return existing }
            throw TollgateError(.crypto, "cannot create the key file \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw TollgateError(.crypto, "cannot write the key file \(path)")
        }
        return MasterKey(key)
    }

    /// The key in the file at `path`, `nil` when nothing is there. Opened without following a symbolic link and
    /// checked on the open file (no gap between check and read); errors name the path, never what the file holds.
    private static func readIfPresent(_ path: String, rules: FileRules = .managed) throws -> MasterKey? {
        // O_NONBLOCK: a FIFO put there is refused below instead of blocking the open.
        let fd = open(path, O_RDONLY | (rules == .managed ? O_NOFOLLOW : 0) | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            var info = stat()
            if code == ELOOP, lstat(path, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFLNK) {
                throw TollgateError(.crypto, "the key file \(path) is a symbolic link; Tollgate does not follow it (put the file itself there)")
            }
            throw TollgateError(.crypto, "cannot read the key file \(path): \(String(cString: strerror(code)))")
        }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else {
            throw TollgateError(.crypto, "the key file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        if rules == .named {
            guard mode & 0o022 == 0 else {
                throw TollgateError(.crypto, "the key file \(path) may be written by group or others (mode \(String(format: "%04o", mode))); run chmod 600 \(path)")
            }
        } else {
            guard mode & 0o077 == 0 else {
                throw TollgateError(.crypto, "the key file \(path) is open to group or others (mode \(String(format: "%04o", mode))); run chmod 600 \(path)")
            }
        }
        guard let data = try? file.read(upToCount: 1024), let text = String(data: data, encoding: .utf8),
              let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
            throw TollgateError(.crypto, "the key file \(path) is not base64 of 32 bytes")
        }
        return MasterKey(SymmetricKey(data: bytes))
    }

    /// How strictly a key file is judged: the one Tollgate manages beside the database, or one an admin named.
    enum FileRules { case managed, named }

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
