import Foundation

/// Where the store lives, as given by `--db` / `TOLLGATE_DB`: a SQLite file or a PostgreSQL database.
///
/// A text starting with `postgres://` or `postgresql://` is a PostgreSQL URL; `sqlite:PATH` or any other text without
/// a `scheme://` is a SQLite file path. Any other `scheme://…` is refused, so a mistyped URL never becomes a file.
/// The description names a PostgreSQL database as `postgres://host:port/db` only — never its user or password —
/// and is what logs, errors and `--json` output show.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite database file.
    case sqlite(path: String)
    /// A PostgreSQL database.
    case postgres(PostgresLocation)

    /// Parses `--db` text. `environment` supplies libpq's defaults (`PGUSER`, `PGPASSWORD` is NOT read here).
    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        guard !text.isEmpty else { throw TollgateError.invalidInput("the database must not be empty") }
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            return .postgres(try PostgresLocation(url: text, environment: environment))
        }
        if lowered.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw TollgateError.invalidInput("sqlite: needs a file path, e.g. sqlite:/var/lib/tollgate/tollgate.sqlite") }
            return .sqlite(path: path)
        }
        if let range = text.range(of: "://"), text[..<range.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) {
            throw TollgateError.invalidInput("unknown database URL scheme '\(text[..<range.lowerBound])': use a file path, sqlite:PATH or postgres://user@host:port/db")
        }
        return .sqlite(path: text)
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        }
    }

    /// How to name this store on a command line: the file path, or the URL with its user (and sslmode) but never
    /// a password (that comes from PGPASSWORD or a password file).
    public var commandLine: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let l):
            "postgres://\(l.user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? l.user)@\(l.host.contains(":") ? "[\(l.host)]" : l.host):\(l.port)/\(l.database)"
                + l.queryText
        }
    }

    /// A short name for titles: the file name, or the PostgreSQL description.
    public var shortName: String {
        switch self {
        case .sqlite(let path): (path as NSString).lastPathComponent
        case .postgres(let location): location.description
        }
    }
}

/// A PostgreSQL database as named by a `postgres://user@host:port/db?sslmode=…` URL.
///
/// The password is never part of the URL (it would sit in shell history and `ps`): it comes from `PGPASSWORD` or a
/// password file, and is attached with ``withPassword(_:)``.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// TLS as libpq's `sslmode`.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, else plain (libpq's default).
        case prefer
        /// TLS, without verifying the server's certificate.
        case require
        /// TLS with the certificate verified and the host name checked: against the PEM file of `sslrootcert` when
        /// the URL names one, else against the system trust roots.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var sslMode: SSLMode
    /// The PEM file of the certificate authorities `verify-full` trusts (libpq's `sslrootcert`); `nil`: the system
    /// trust roots.
    public var sslRootCertificate: String?
    /// The password, if one was supplied; never printed.
    public var password: Secret?

    public init(host: String, port: Int = 5432, database: String, user: String, sslMode: SSLMode = .prefer,
                sslRootCertificate: String? = nil, password: Secret? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.sslMode = sslMode
        self.sslRootCertificate = sslRootCertificate
        self.password = password
    }

    /// Parses a `postgres://` URL; the user defaults to `PGUSER`, else `postgres`; the host to `localhost`, the
    /// port to 5432. `sslrootcert=PATH` names the CA file `verify-full` trusts (with any other `sslmode` it is
    /// refused: a CA that would not be checked must not look as if it were). Throws `.invalidInput` for a password
    /// in the URL, a missing database, an unknown parameter or an `sslmode` Tollgate does not honour — the message
    /// never repeats the URL.
    public init(url text: String, environment: [String: String] = [:]) throws {
        guard let components = URLComponents(string: text) else {
            throw TollgateError.invalidInput("the PostgreSQL URL is malformed; expected postgres://user@host:port/db")
        }
        if components.password != nil {
            throw TollgateError.invalidInput("the PostgreSQL URL must not contain a password: put it in PGPASSWORD or a file named by --db-password-file")
        }
        let database = String(components.path.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw TollgateError.invalidInput("the PostgreSQL URL must name a database: postgres://user@host:port/db")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw TollgateError.invalidInput("the PostgreSQL port must be between 1 and 65535")
        }
        var sslMode = SSLMode.prefer
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = SSLMode(rawValue: value) else {
                    throw TollgateError.invalidInput("sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else {
                    throw TollgateError.invalidInput("sslrootcert needs the path of a PEM file of CA certificates")
                }
                rootCertificate = value
            default:
                throw TollgateError.invalidInput("unknown PostgreSQL URL parameter '\(item.name)' (only sslmode and sslrootcert are understood)")
            }
        }
        if rootCertificate != nil, sslMode != .verifyFull {
            throw TollgateError.invalidInput("sslrootcert is used only with sslmode=verify-full")
        }
        let user = components.user.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["PGUSER"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        self.init(host: host, port: components.port ?? 5432, database: database, user: user, sslMode: sslMode,
                  sslRootCertificate: rootCertificate)
    }

    /// The URL's parameters as ``init(url:environment:)`` reads them: `""` for the defaults, else
    /// `?sslmode=…` (and `&sslrootcert=…`).
    var queryText: String {
        guard sslMode != .prefer else { return "" }
        var text = "?sslmode=\(sslMode.rawValue)"
        if let sslRootCertificate {
            text += "&sslrootcert=" + (sslRootCertificate.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? sslRootCertificate)
        }
        return text
    }

    /// This location with `password` attached.
    public func withPassword(_ password: Secret?) -> PostgresLocation {
        var copy = self
        copy.password = password
        return copy
    }

    /// `postgres://host:port/db`: no user, no password, no parameters.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(shownHost):\(port)/\(database)"
    }
}

extension StoreLocation {
    /// This location with a PostgreSQL password attached: read from `passwordFile` when given (its first line;
    /// the file must exist), else `PGPASSWORD`. A SQLite location is returned as it is.
    public func withPassword(file passwordFile: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        guard case .postgres(let location) = self else { return self }
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw TollgateError.invalidInput("cannot read the database password file \(passwordFile)")
            }
            let password = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard !password.isEmpty else { throw TollgateError.invalidInput("the database password file \(passwordFile) is empty") }
            return .postgres(location.withPassword(Secret(password)))
        }
        return .postgres(location.withPassword(environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : Secret($0) }))
    }
}

private extension CharacterSet {
    /// What a query value may hold unescaped (`&`, `=`, `+` and `#` are escaped).
    static let urlQueryValueAllowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#"))
}
