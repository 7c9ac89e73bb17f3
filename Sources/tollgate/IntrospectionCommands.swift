import ArgumentParser
import Foundation
import TollgateCore

extension ServerCommand {
    /// `tollgate server introspection …`: the credentials resource servers use at a server's introspection endpoint.
    struct Introspection: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the credentials resource servers use at a server's introspection endpoint.",
            discussion: "Registered clients cannot introspect tokens; only holders of these credentials can.",
            subcommands: [Add.self, List.self, Revoke.self])

        /// `tollgate server introspection add SLUG --name NAME --secret-file PATH`
        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create an introspection credential; its secret is written to a new file, never printed.",
                discussion: """
                    The file is created with mode 0600 and must not exist yet. The resource server authenticates \
                    with the printed id as client_id and the file's content as client_secret (Basic or form).
                    """)

            @OptionGroup var database: DatabaseOptions

            @Argument(help: "The server's slug.")
            var slug: String

            @Option(help: "Who uses the credential (for example the resource server's name).")
            var name: String

            @Option(name: .customLong("secret-file"), help: ArgumentHelp("Where to write the secret (created 0600; refused if it exists).", valueName: "path"))
            var secretFile: String

            func validate() throws {
                guard !name.isEmpty, name.count <= 200 else { throw ValidationError("--name must be 1-200 characters") }
                guard !secretFile.isEmpty else { throw ValidationError("--secret-file must not be empty") }
            }

            func run() async throws {
                // The file first: if it cannot be created, no credential is made whose secret nobody has.
                let file = try SecretFile.create(secretFile)
                let issued: IssuedIntrospectionCredential
                do {
                    issued = try await CoreSession.run(database) { tollgate in
                        try await tollgate.admin.addIntrospectionCredential(serverSlug: slug, name: name)
                    }
                } catch {
                    file.discard()
                    throw error
                }
                do {
                    try file.write(issued.secret)
                } catch {
                    file.discard()
                    _ = try? await CoreSession.run(database) { tollgate in
                        try await tollgate.admin.revokeIntrospectionCredential(id: issued.credential.id)
                    }
                    throw error
                }
                print("introspection credential \(issued.credential.id) added for server '\(slug)'; " +
                      "its secret is in \(Output.singleLine(secretFile)) (mode 0600)")
            }
        }

        /// `tollgate server introspection list SLUG`
        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a server's introspection credentials.")

            @OptionGroup var database: DatabaseOptions
            @OptionGroup var output: OutputOptions

            @Argument(help: "The server's slug.")
            var slug: String

            func run() async throws {
                let (credentials, now) = try await CoreSession.run(database) { tollgate in
                    await (try tollgate.admin.introspectionCredentials(serverSlug: slug), tollgate.clock.now())
                }
                if output.json {
                    try Output.json(credentials.map { Annotated(base: $0, extras: ["serverSlug": slug, "active": $0.revokedAt == nil]) })
                    return
                }
                Output.table(["ID", "NAME", "CREATED", "STATUS"], credentials.map { c in
                    [c.id, c.name, Output.relative(c.createdAt, now: now),
                     c.revokedAt.map { "revoked " + Output.relative($0, now: now) } ?? "active"]
                }, empty: "no introspection credentials")
            }
        }

        /// `tollgate server introspection revoke ID`
        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke an introspection credential.")

            @OptionGroup var database: DatabaseOptions

            @Argument(help: "The credential's id (tgi_…).")
            var id: String

            func run() async throws {
                _ = try await CoreSession.run(database) { tollgate in try await tollgate.admin.revokeIntrospectionCredential(id: id) }
                print("introspection credential \(Output.singleLine(id)) revoked")
            }
        }
    }
}

/// A file created for one secret: new (never an existing file or symlink), mode 0600.
struct SecretFile {
    let path: String
    let descriptor: Int32

    static func create(_ path: String) throws -> SecretFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it already exists" : String(cString: strerror(errno))
            throw CommandFailure("cannot create the secret file \(Output.singleLine(path)): \(reason)")
        }
        // The umask may only have narrowed the mode; make it exactly 0600.
        _ = fchmod(fd, 0o600)
        return SecretFile(path: path, descriptor: fd)
    }

    /// Writes the secret and a newline, flushes it to disk and closes the file (on failure the file stays
    /// open for ``discard()``).
    func write(_ secret: Secret) throws {
        let bytes = Array((secret.value + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CommandFailure("cannot write the secret file \(Output.singleLine(path))") }
            written += n
        }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// Closes and removes the file (after a failure).
    func discard() {
        close(descriptor)
        unlink(path)
    }
}
