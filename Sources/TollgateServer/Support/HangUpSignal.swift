import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Catches SIGHUP, whose default action would end the process at once, without a drain.
enum HangUpSignal {
    /// Ignores SIGHUP's default action and calls `handler` (on a global queue) each time it arrives, until the
    /// returned source is cancelled. SIGHUP stays ignored after that.
    static func `catch`(_ handler: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
}
