#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a write to a closed pipe does to the tool: it fails with `EPIPE`, and the tool goes on.
///
/// By default `SIGPIPE` kills the writer, so `restore-drill backup 2>&1 | head -1` died at its
/// second progress line and left `.partial-full_*` behind. The tool therefore stops `SIGPIPE`
/// from killing it before anything runs (``surviveWrites()``, first thing in `main`); its writes to
/// the terminal drop what a closed pipe refuses.
///
/// Not with `SIG_IGN`, which is inherited across `exec`: every child would then start with
/// `SIGPIPE` ignored, and a restore script's `producer | head -1` whose producer loops on write
/// errors (a shell `while :; do echo y || :; done`) would never end. swift-subprocess resets every
/// signal in the child, but Foundation's `Process` (used for rclone and `sh -n`) does not
/// (measured: the child's `SigIgn` mask held `SIGPIPE`). A handler that does nothing has the same
/// effect here (the write returns `EPIPE`), and `exec` resets a handled signal to its default, so
/// every child, however it is spawned, starts with the default `SIGPIPE`.
public enum BrokenPipe {
    /// Makes a write to a closed pipe or socket fail with `EPIPE` instead of killing this
    /// process, for the rest of its life; children start with the default action. Idempotent.
    public static func surviveWrites() {
        _ = installed
    }

    /// The handler, installed once with `SA_RESTART`: other system calls are not interrupted.
    private static let installed: Void = {
        var action = sigaction()
        #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = { _ in }
        #else
            action.__sigaction_u.__sa_handler = { _ in }
        #endif
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        _ = sigaction(SIGPIPE, &action, nil)
    }()
}
