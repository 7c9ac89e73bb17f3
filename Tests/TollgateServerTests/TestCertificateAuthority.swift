import Foundation
import TollgateTestSupport

/// A throwaway certificate authority and one server certificate it signed, made with the `openssl` command in a
/// temporary directory: for HTTPS servers on loopback that Tollgate must trust (and only through this CA).
struct TestCertificateAuthority: Sendable {
    let directory: String
    /// The CA certificate (PEM): what the client trusts.
    var caPath: String { directory + "/ca.pem" }
    /// The server certificate (PEM), for `localhost`, `docs.test`, 127.0.0.1 and ::1.
    var certificatePath: String { directory + "/server.pem" }
    var keyPath: String { directory + "/server.key" }

    /// Made once per test process (a few openssl calls).
    static let shared: TestCertificateAuthority = {
        do { return try TestCertificateAuthority() } catch { fatalError("openssl could not make the test CA: \(error)") }
    }()

    init() throws {
        directory = NSTemporaryDirectory() + "tollgate-test-ca-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            basicConstraints = CA:FALSE
            keyUsage = digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:localhost, DNS:docs.test, IP:127.0.0.1, IP:::1
            """.write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-subj", "/CN=Tollgate test CA", "-keyout", "ca.key", "-out", "ca.pem",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: directory)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                          "-keyout", "server.key", "-out", "server.csr"], in: directory)
        try Self.openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                          "-extfile", "server.ext", "-out", "server.pem"], in: directory)
    }

    static func openssl(_ arguments: [String], in directory: String) throws {
        let process = try ChildProcess("/usr/bin/env", ["openssl"] + arguments, directory: directory, stderr: .pipe)
        let message = process.standardError?.readDataToEndOfFile() ?? Data()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "openssl", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: message, as: UTF8.self)])
        }
    }
}
