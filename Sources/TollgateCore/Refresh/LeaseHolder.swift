import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who holds a refresh lease: a process on a host, written into the store as `lease_owner`.
///
/// The text form is `host/pid/start/nonce`: `host` names the machine and its current boot, `start` is the
/// process's start time (so a recycled pid is not mistaken for the holder), `nonce` tells apart several
/// coordinators in one process. A waiter on the same host can then see at once that a holder's process is
/// gone (`kill -9`, a crash) and take the lease over instead of waiting for it to expire.
public struct LeaseHolder: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    public var start: String
    public var nonce: String

    /// This process, with a fresh nonce.
    public static func current() -> LeaseHolder {
        let pid = getpid()
        return LeaseHolder(host: thisHost, pid: pid, start: processStart(pid) ?? "?",
                           nonce: String(UUID().uuidString.prefix(8)).lowercased())
    }

    /// Parses a stored owner; `nil` for owners of another form (older versions, tests).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, let pid = Int32(parts[1]), pid > 0 else { return nil }
        self.init(host: String(parts[0]), pid: pid, start: String(parts[2]), nonce: String(parts[3]))
    }

    public init(host: String, pid: Int32, start: String, nonce: String) {
        self.host = host
        self.pid = pid
        self.start = start
        self.nonce = nonce
    }

    public var description: String { "\(host)/\(pid)/\(start)/\(nonce)" }

    /// Whether this holder ran on this host (this boot) and its process no longer exists.
    ///
    /// `false` whenever that cannot be known for sure (another host, no `/proc`): then only the lease's
    /// expiry frees it.
    public var isGoneFromThisHost: Bool {
        guard host == Self.thisHost else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return true }
        guard start != "?", let now = Self.processStart(pid) else { return false }
        return now != start
    }

    /// Host name plus boot id: a holder from before a reboot is never taken for a live local process.
    static let thisHost: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "unknown-host"
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))
            .map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(8)) } ?? "noboot"
        return name.replacingOccurrences(of: "/", with: "_") + "@" + boot
    }()

    /// A process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`), if readable.
    static func processStart(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
