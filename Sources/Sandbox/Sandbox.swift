/// # Sandbox
///
/// Everything a drill needs to run untrusted code from a backup set without letting it touch
/// the machine (docs/ARCHITECTURE.md, "A drill", step 3):
///
/// - ``SubprocessRunner``: the ``ProcessRunner`` every stage uses. Each child gets its own session
///   and process group; a timeout or an output cap kills the whole group.
/// - ``RecordingRunner``: wraps a runner and records every argv and environment it started
///   (tests use it to prove no secret is ever on a command line).
/// - ``RestoreSandbox``: the throwaway folder `<sandboxes>/<drill-id>/{home,work}` a drill
///   restores into, marked so that ``RestoreSandbox/remove()`` only ever removes what it made.
/// - ``IsolatedReplayer``: the ``RestoreReplayer`` that runs a restore script under bubblewrap
///   (or, without it, with limits only: `isolation: none`), resource limits via `prlimit`, a
///   memory and pids cgroup (``ReplayCgroup``), a byte bound (``ByteWatchdog``), a seccomp
///   filter (``SeccompFilter``), an unprivileged uid when the tool runs as root, a scrubbed
///   environment, a timeout and an output cap.
/// - ``Canaries``: bait files outside the sandbox, checked before and after each replay.
///
/// Terms: *replay* is one run of a set's restore script; *sandbox* is the only folder a replay
/// may write; *canary* is a file or folder planted outside the sandbox whose change proves an
/// escape; *isolation* is `bubblewrap` or `none` (``IsolationKind``).
///
/// An interrupted run leaves behind at most: a sandbox folder (with its marker file, so a
/// later `remove()` still recognises it), canary folders named `.restore-drill-canary-*`, and
/// (Linux, a replay's cgroups) empty cgroup folders named `restore-drill-<uuid>`.
/// Nothing keeps running: every child is in its own process group that is killed with the
/// timeout, under bubblewrap the replay dies with its parent, and without bubblewrap the
/// processes marked as the replay's are swept after it.
import DrillCore
