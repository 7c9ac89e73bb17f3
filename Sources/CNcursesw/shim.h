// The only C header Tollgate includes: ncursesw with wide-character functions, plus setlocale, and a few
// helpers that Swift cannot express: the attribute macros, and signal handlers that must be plain C
// (async-signal-safe: they only write(2) and tcsetattr(3)).
//
// The helpers keep state in static variables, so each Swift source file that calls them gets its own
// copy: TollgateTerminal calls the signal helpers from one file only (SignalTrap.swift).
#ifndef TOLLGATE_CNCURSESW_SHIM_H
#define TOLLGATE_CNCURSESW_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <ncursesw/curses.h>
#include <ncursesw/term.h>

// Declared here because the shim is not compiled with _XOPEN_SOURCE (SwiftPM drops pkg-config's -D flags).
extern int wcwidth(wchar_t c);

static inline int tg_wcwidth(wchar_t c) { return wcwidth(c); }
static inline WINDOW *tg_stdscr(void) { return stdscr; }
static inline TERMINAL *tg_cur_term(void) { return cur_term; }
static inline FILE *tg_stdin(void) { return stdin; }
static inline FILE *tg_stdout(void) { return stdout; }
static inline attr_t tg_attr_normal(void) { return A_NORMAL; }
static inline attr_t tg_attr_bold(void) { return A_BOLD; }
static inline attr_t tg_attr_dim(void) { return A_DIM; }
static inline attr_t tg_attr_italic(void) { return A_ITALIC; }
static inline attr_t tg_attr_underline(void) { return A_UNDERLINE; }
static inline attr_t tg_attr_reverse(void) { return A_REVERSE; }
static inline attr_t tg_attr_standout(void) { return A_STANDOUT; }
static inline int tg_lines(void) { return LINES; }
static inline int tg_cols(void) { return COLS; }
static inline int tg_colors(void) { return COLORS; }
static inline int tg_color_pairs(void) { return COLOR_PAIRS; }
static inline int tg_key_code_yes(void) { return KEY_CODE_YES; }

// MARK: Signals that end the console (SIGINT, SIGTERM, SIGHUP): a byte with the signal number goes down a
// pipe that the event loop polls, so the loop restores the terminal and leaves on its own thread.
//
// Swift's C importer only emits scalar file-scope statics, so aggregates (saved actions, terminal modes, the
// reset string) live in memory the Swift side allocates; these statics point at it.

static int tg_signal_fd = -1;
static struct sigaction *tg_previous_actions = 0;
static const int tg_trapped_signals[3] = { SIGINT, SIGTERM, SIGHUP };

static void tg_on_signal(int sig) {
    if (tg_signal_fd >= 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t ignored = write(tg_signal_fd, &b, 1);
        (void)ignored;
    }
}

/// `previous` must hold 3 actions and outlive the trap.
static inline int tg_trap_signals(int fd, struct sigaction *previous) {
    tg_signal_fd = fd;
    tg_previous_actions = previous;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tg_on_signal;
    // SA_RESTART: a signal must not fail another thread's read or write with EINTR (the loop's poll still wakes).
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        if (sigaction(tg_trapped_signals[i], &sa, &previous[i]) != 0) return -1;
    }
    return 0;
}

// SIGWINCH: curses' own handler records the resize; this one calls it, then wakes the event loop (the
// signal may be delivered to a thread other than the one waiting in poll). Installed after newterm.
static struct sigaction *tg_curses_winch = 0;

static void tg_on_winch(int sig) {
    if (tg_curses_winch && tg_curses_winch->sa_handler != SIG_DFL && tg_curses_winch->sa_handler != SIG_IGN) {
        tg_curses_winch->sa_handler(sig);
    }
    tg_on_signal(sig);
}

/// `previous` (1 action) must outlive the trap.
static inline int tg_trap_resize(struct sigaction *previous) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tg_on_winch;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGWINCH, &sa, previous) != 0) return -1;
    tg_curses_winch = previous;
    return 0;
}

/// Lets the calling thread receive the console's signals even if it was created with them blocked.
static inline void tg_unblock_console_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGWINCH);
    sigaddset(&set, SIGCONT);
    sigaddset(&set, SIGTSTP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static inline void tg_untrap_signals(void) {
    if (tg_curses_winch) {
        sigaction(SIGWINCH, tg_curses_winch, NULL);
        tg_curses_winch = 0;
    }
    if (tg_previous_actions) {
        for (int i = 0; i < 3; i++) sigaction(tg_trapped_signals[i], &tg_previous_actions[i], NULL);
    }
    tg_signal_fd = -1;
}

// MARK: Crashes (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP: a Swift trap is one of these): restore
// the terminal modes saved before curses started and write the terminal's reset strings, then hand the
// signal to whoever had it before (the Swift backtracer, or the default action).

static struct termios *tg_saved_termios = 0;
static int tg_saved_termios_fd = -1;
static const char *tg_reset_sequence = 0;
static size_t tg_reset_length = 0;
static struct sigaction *tg_previous_crash_actions = 0;
static const int tg_crash_signals[6] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };

/// `storage` must outlive the console.
static inline int tg_save_terminal_modes(int fd, struct termios *storage) {
    if (tcgetattr(fd, storage) != 0) return -1;
    tg_saved_termios = storage;
    tg_saved_termios_fd = fd;
    return 0;
}

static void tg_on_crash(int sig) {
    if (tg_saved_termios && tg_saved_termios_fd >= 0) tcsetattr(tg_saved_termios_fd, TCSANOW, tg_saved_termios);
    if (tg_reset_sequence && tg_reset_length > 0) {
        ssize_t ignored = write(STDOUT_FILENO, tg_reset_sequence, tg_reset_length);
        (void)ignored;
    }
    if (tg_previous_crash_actions) {
        for (int i = 0; i < 6; i++) {
            if (tg_crash_signals[i] == sig) sigaction(sig, &tg_previous_crash_actions[i], NULL);
        }
    }
    raise(sig);
}

/// `reset` (`length` bytes) and `previous` (6 actions) must outlive the console.
static inline void tg_arm_crash_restore(const char *reset, size_t length, struct sigaction *previous) {
    tg_reset_sequence = reset;
    tg_reset_length = length;
    tg_previous_crash_actions = previous;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tg_on_crash;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 6; i++) sigaction(tg_crash_signals[i], &sa, &previous[i]);
}

static inline void tg_disarm_crash_restore(void) {
    if (tg_previous_crash_actions) {
        for (int i = 0; i < 6; i++) sigaction(tg_crash_signals[i], &tg_previous_crash_actions[i], NULL);
    }
    tg_reset_length = 0;
    tg_saved_termios_fd = -1;
}

#endif
