import Glibc

/// While curses owns the screen, file descriptor 2 goes to a log file (or /dev/null): nothing any library
/// writes to stderr can land on the screen. Undone when the console ends.
final class StderrRedirect {
    private let saved: Int32

    /// Sends stderr to `path` (appending), or discards it when `path` is nil or cannot be opened.
    init(to path: String?) {
        saved = dup(2)
        var target: Int32 = -1
        if let path { target = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) }
        if target < 0 { target = open("/dev/null", O_WRONLY | O_CLOEXEC) }
        if target >= 0 {
            dup2(target, 2)
            close(target)
        }
    }

    /// Gives stderr back.
    func restore() {
        guard saved >= 0 else { return }
        dup2(saved, 2)
        close(saved)
    }
}
