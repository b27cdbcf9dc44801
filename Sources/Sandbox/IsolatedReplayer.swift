import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The ``RestoreReplayer`` of the tool: runs a set's restore script in a sandbox, contained
/// (docs/ARCHITECTURE.md, "A drill", step 3).
///
/// **Isolation.** `sandbox.isolation: bubblewrap` requires `bwrap` (an error when missing or
/// not working); `none` never uses it; `auto` uses it when `bwrap` is on the tool path and a probe
/// (`bwrap --unshare-all`, the system binds, `--size … --tmpfs /tmp true`, run once per replayer
/// as the replay's uid) succeeds, else runs with `isolation: none` and says why in the notes, or, when the request forbids that
/// fallback (`unisolatedFallback` false: an unproven set), runs nothing and throws
/// ``RestoreDrillError/isolationRefused(_:)``.
/// Under bubblewrap the script sees nothing of the host but: the system's programs and libraries
/// read-only (``systemFolders``), a minimal `/etc` (``writeReplayEtc(in:identity:)``: generated
/// `passwd`, `group`, `nsswitch.conf`, and ``hostEtcFiles``, each bound on its own), its own `/dev`
/// (`--dev`) and `/proc` (`--proc`), a `/dev/shm` of ``sharedMemoryCap`` bytes, a private,
/// read-only `/tmp` (`--tmpfs /tmp` placed before the sandbox bind because sandboxes may live
/// under /tmp, then `--remount-ro /tmp`), the sandbox read-write, the set folder and
/// `extraReadOnly` read-only (bound at their real paths, so nothing else of a folder they live in
/// is seen), with bubblewrap's own root and `/dev` remounted read-only. No `/home`, `/root`,
/// `/var`, `/run` (so no daemon's unix socket), `/srv`, `/mnt`, `/media`, other sandboxes or other
/// sets. Also: no network and its own PID, IPC and UTS namespaces (`--unshare-all`), an
/// environment it was given (`--clearenv --setenv`), its own session (`--new-session`), and death
/// with its parent (`--die-with-parent`).
///
/// **Limits.** `request.limits` through util-linux `prlimit --cpu=N:N --as=B:B --fsize=B:B
/// --nofile=N:N --nproc=N:N --` (soft = hard, so CPU exhaustion is SIGKILL); on macOS through
/// `sh -c 'ulimit …; exec "$@"'`. The same limits apply with and without bubblewrap. Those bound
/// each process (or, `--nproc`, the uid); on Linux the totals are bounded too, each
/// ``ReplayLimit`` where it can be, and ``ReplayOutcome/limits`` says which were
/// (`limits: full`, or `partial` naming the rest; the notes say why each missing one is):
/// - ``ReplayLimit/memoryCgroup`` and ``ReplayLimit/pidsCgroup``: a cgroup `restore-drill-<uuid>`
///   (``ReplayCgroup``: v1 `memory` and `pids` hierarchies where mounted, under the tool's own
///   group, else v2 where delegated) with `memory` and `processes` for all the replay's
///   processes together. The outermost process, a tiny `sh -c` prelude (``preludeScript``, run
///   as the tool's user, before `setpriv` drops root) writes its pid into each group's
///   `cgroup.procs` before it execs `prlimit`, so every process of the replay is born inside; the
///   groups are emptied (SIGKILL) and removed after the replay. With the pids cgroup in force,
///   `--nproc` is left out: the cgroup counts exactly the replay's processes (none can leave it
///   without root) and says when it refused (`pids.events`), while `RLIMIT_NPROC` counts every
///   process of the uid on the machine (other replays' too), refuses silently, and is checked
///   first on `fork`, so with the same value the cgroup would never be the limit that refused.
/// - ``ReplayLimit/shmCap``: under bubblewrap, `/dev/shm` is a tmpfs of ``sharedMemoryCap``.
/// - ``ReplayLimit/byteBound``: with `request.byteBound`, a ``ByteWatchdog`` measures the sandbox
///   (`du`) every 250 ms while the script runs and kills the replay (its cgroups, and every
///   process carrying its ``markVariable``) once it holds more; a bound passed after the last
///   measurement is caught by one more after the replay.
/// - ``ReplayLimit/seccomp``: under bubblewrap, `--seccomp 4` with ``SeccompFilter`` (refusing
///   `socket(AF_UNIX, …)` and `io_uring_setup` with EPERM), written to ``etcFolder`` and opened
///   on descriptor ``seccompDescriptor`` by the prelude; bubblewrap closes it before the script.
///
/// A replay stopped by a limit is an outcome, not an error: ``ReplayOutcome/stoppedBy`` names
/// the memory cgroup when the kernel killed a process for memory (`oom_kill`), the pids cgroup
/// when it refused a fork (`pids.events` `max`), and the byte bound when it was passed.
///
/// **Unprivileged uid.** When the tool runs as root, the script runs as another uid via `setpriv
/// --reuid --regid --clear-groups`, because process limits do not bind root: by default a uid (and
/// an equal gid) of this replayer's own, reserved from ``ReplayUIDLease``'s range for as long as
/// the replayer lives (one drill), so drills never share one; ``unprivilegedUID`` /
/// ``unprivilegedGID`` when given; 65534 (`nobody`) with a note when no uid could be reserved. The sandbox folder (mode 0700 in every case) and its
/// contents are given to that uid for the replay and the folder taken back by root after it; the
/// marker file stays root's and is put back as it was if the replay removed or changed it. A set
/// folder the uid cannot read is copied read-only to `<sandbox>/set/<name>` and replayed from the
/// copy; an unreadable `extraReadOnly` file is copied (mode 0400, owned by the uid) to
/// `<sandbox>/readonly/` and wiped after the replay; arguments naming them are rewritten. Both
/// are noted. The set itself is never written.
///
/// **Environment.** Only `PATH=/usr/local/bin:/usr/bin:/bin`, `HOME` (`request.environment["HOME"]`,
/// else `<sandbox>/home` when it exists, else the sandbox), `TMPDIR=<sandbox>/tmp`, `LC_ALL=C`,
/// then `request.environment`, and ``markVariable`` with a random value for this replay.
///
/// **Secret.** `request.secret` (the vault password of a proven set) is written to the child's
/// standard input, a pipe the runner closes after it; a tiny `sh -c` wrapper run innermost moves it
/// to descriptor 3 and gives the script /dev/null as standard input (``secretWrapper``). No file
/// holds it. Without a secret the argv has no wrapper and the script has no descriptor 3.
///
/// **Timeout and output cap.** The runner kills the whole process group at `request.timeout` and
/// when output passes `request.outputCap` (the outcome keeps the tail). Under bubblewrap the PID
/// namespace dies with it. Without bubblewrap (on Linux), after the replay, every process of the
/// replay's uid whose environment still carries this replay's ``markVariable`` is
/// killed (read from /proc), so a script that left its process group is gone too, while other
/// replays and services running as the same uid are left alone. (A script that also clears its
/// environment escapes that sweep: `isolation: none` is not containment, and the report says so.)
public struct IsolatedReplayer: RestoreReplayer {
    /// The runner that starts the probe and the replay (inject a ``RecordingRunner``
    /// to see every argv).
    public var runner: any ProcessRunner
    /// `PATH`-style folders searched for `bwrap`, `prlimit` and `setpriv`.
    public var toolPath: String
    /// The uid the script runs as when the tool runs as root; nil (the default) reserves one of
    /// this replayer's own (``ReplayUIDLease``).
    public var unprivilegedUID: UInt32?
    /// The gid (with no supplementary groups) the script runs as when the tool runs as root; nil
    /// uses the uid's value.
    public var unprivilegedGID: UInt32?
    /// The interpreter of restore scripts (POSIX sh, docs/SET-FORMAT.md).
    public var shell: String
    private let probes = ProbeCache()
    private let lease = ReplayUIDLease()

    /// - Parameters:
    ///   - runner: starts every child; a ``SubprocessRunner`` by default.
    ///   - toolPath: where to look for `bwrap`, `prlimit`, `setpriv`; nil uses this process's
    ///     `PATH` followed by `/usr/local/bin:/usr/bin:/bin`.
    ///   - unprivilegedUID: the uid for a replay started by root; nil (the default) reserves one of
    ///     this replayer's own from ``ReplayUIDLease``'s range on first use.
    ///   - unprivilegedGID: its gid; nil uses the uid's value.
    ///   - shell: the restore script's interpreter, `/bin/sh`.
    public init(
        runner: any ProcessRunner = SubprocessRunner(), toolPath: String? = nil, unprivilegedUID: UInt32? = nil,
        unprivilegedGID: UInt32? = nil, shell: String = "/bin/sh"
    ) {
        self.runner = runner
        self.toolPath =
            toolPath
            ?? ((ProcessInfo.processInfo.environment["PATH"].map { $0 + ":" } ?? "") + "/usr/local/bin:/usr/bin:/bin")
        self.unprivilegedUID = unprivilegedUID
        self.unprivilegedGID = unprivilegedGID
        self.shell = shell
    }

    /// The uid and gid a replay runs as, when it is not the tool's own: set when the tool runs as
    /// root. Plant ``Canaries`` with this owner so they are writable by exactly the code under test.
    /// The same for every call on one replayer (and its copies).
    public var replayIdentity: (uid: UInt32, gid: UInt32)? {
        guard geteuid() == 0 else { return nil }
        if let uid = unprivilegedUID { return (uid, unprivilegedGID ?? uid) }
        guard let uid = try? lease.uid() else { return (Self.sharedUID, Self.sharedUID) }
        return (uid, unprivilegedGID ?? uid)
    }

    /// The uid and gid used when no uid of a replayer's own can be reserved: 65534 (`nobody`,
    /// `nogroup`), shared with other drills, and said in the notes.
    public static let sharedUID: UInt32 = 65534

    /// Replays `request.script` under the isolation, limits, uid, environment, timeout and output
    /// cap described above. A script that fails, times out or floods its output is an outcome.
    /// - Returns: how the script ended, `bubblewrap` or `none`, the uid when dropped, and notes.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when `isolation` is `bubblewrap` and bubblewrap is
    ///   missing or does not work, when `prlimit` (or, as root, `setpriv`) is missing, or when the
    ///   sandbox cannot be reached by the replay's uid; ``RestoreDrillError/io(path:message:)``
    ///   when the sandbox is missing or cannot be prepared.
    public func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
        var notes: [String] = []
        // Real paths, resolved with realpath(3) on purpose: when the tool runs as root, whether
        // the replay's uid can read the set and the extra files is judged with lstat (which does
        // not follow a last link), and what it cannot read is copied from where it really is;
        // the binds and the script's path then name those same places.
        let sandbox = request.sandboxFolder.resolvingSymlinks()
        guard FileSystem.isFolder(sandbox) else {
            throw RestoreDrillError.io(path: sandbox.pathString, message: "sandbox folder does not exist")
        }
        let identity = replayIdentity

        #if os(Linux)
            guard let prlimit = SubprocessRunner.which("prlimit", path: toolPath) else {
                throw RestoreDrillError.runtime(
                    "prlimit not found (util-linux): the replay's resource limits cannot be applied")
            }
            var dropPrefix: [String] = []
            if let identity {
                guard let setpriv = SubprocessRunner.which("setpriv", path: toolPath) else {
                    throw RestoreDrillError.runtime(
                        "setpriv not found (util-linux): cannot run the replay as an unprivileged uid instead of root")
                }
                dropPrefix = [setpriv, "--reuid=\(identity.uid)", "--regid=\(identity.gid)", "--clear-groups"]
            }
            let bwrap = try await decideIsolation(
                request.isolation, fallback: request.unisolatedFallback, dropPrefix: dropPrefix, notes: &notes)
        #else
            switch request.isolation {
            case .bubblewrap:
                throw RestoreDrillError.runtime("sandbox.isolation is bubblewrap, but bubblewrap exists only on Linux")
            case .auto:
                guard request.unisolatedFallback else {
                    throw RestoreDrillError.isolationRefused("bubblewrap exists only on Linux")
                }
                notes.append("bubblewrap exists only on Linux: isolation none")
            case .none: break
            }
            let bwrap: String? = nil
        #endif

        // Prepare the sandbox: a TMPDIR, and ownership for the unprivileged uid.
        let tmp = sandbox.appending(component: "tmp")
        if !FileSystem.isFolder(tmp) {
            guard mkdir(tmp.pathString, 0o700) == 0 else {
                throw RestoreDrillError.io(
                    path: tmp.pathString, message: "cannot create: \(String(cString: strerror(errno)))")
            }
        }
        var setFolder = request.setFolder.resolvingSymlinks()
        var script = request.script.resolvingSymlinks()
        var arguments = request.arguments
        var readOnly: [AbsolutePath] = []  // extra paths bound read-only under bubblewrap
        var wipeAfter: [AbsolutePath] = []
        var removeAfter: [AbsolutePath] = []  // the set's copy: not secret, large, removed
        var marker: Data?
        var secretsRecord: Data?
        // Replays from a read-only copy of the set in `<sandbox>/set/`, removed after the replay:
        // for a uid that cannot read the set, and for a secret (a copy made after the check).
        func replayFromCopy(gid: UInt32, note: (AbsolutePath) -> String) throws {
            let copyParent = sandbox.appending(component: Self.setCopyFolder)
            let copy = copyParent.appending(component: setFolder.basename)
            try FileSystem.copyReadOnly(setFolder, to: copy, parent: copyParent, gid: gid)
            notes.append(note(copy))
            removeAfter.append(copyParent)
            script = Self.rebase(script, from: setFolder, to: copy)
            arguments = arguments.map { Self.rebase($0, from: setFolder, to: copy) }
            setFolder = copy
        }
        // A copy the drill wrote while it verified the set (ReplayRequest.verifiedCopyFolder):
        // replayed as it is, made readable by the replay's group, removed after the replay.
        let copyParent = sandbox.appending(component: Self.setCopyFolder)
        let preparedCopy = setFolder.isDescendant(of: copyParent)
        if preparedCopy {
            FileSystem.makeReadOnly(setFolder, parent: copyParent, gid: identity?.gid)
            // Format 2: the set's objects, copied beside it (`<sandbox>/set/objects/`), where the
            // script's default `--objects` (`<set>/../objects`) finds them.
            let objects = copyParent.appending(component: Manifest.objectsFolderName)
            if FileSystem.isFolder(objects) { FileSystem.makeReadOnly(objects, parent: copyParent, gid: identity?.gid) }
            notes.append(
                "replayed from a read-only copy of the set written while its artifacts were verified (exactly "
                    + "the bytes hashed, nothing unlisted), removed after the replay")
            removeAfter.append(copyParent)
        }
        chmod(sandbox.pathString, 0o700)
        if let identity {
            if let blocker = FileSystem.firstUntraversable(above: sandbox, uid: identity.uid, gid: identity.gid) {
                throw RestoreDrillError.runtime(
                    "the sandbox \(sandbox) cannot be reached by uid \(identity.uid): \(blocker) is not searchable by it; "
                        + "put sandbox.folder under a folder other users can traverse")
            }
            // The sandbox is the replay uid's, 0700: no other uid reads it. The marker, the
            // read-only copies and the replay's /etc files stay root's; the marker is checked and
            // put back after the replay (the uid owns the folder, so it could remove it).
            marker = FileManager.default.contents(
                atPath: sandbox.appending(component: RestoreSandbox.markerName).pathString)
            secretsRecord = Self.regularFileContents(sandbox.appending(component: Self.secretsRecordName))
            lchown(sandbox.pathString, identity.uid, identity.gid)
            FileSystem.chownContents(
                of: sandbox, uid: identity.uid, gid: identity.gid,
                except: [
                    RestoreSandbox.markerName, Self.setCopyFolder, Self.readOnlyCopyFolder, Self.etcFolder,
                    Self.secretsRecordName,
                ])
            if unprivilegedUID != nil {
                notes.append("the tool runs as root: the replay runs as uid \(identity.uid), gid \(identity.gid)")
            } else if identity.uid == Self.sharedUID, let failure = lease.failureReason {
                notes.append(
                    "the tool runs as root: no uid of this drill's own could be reserved (\(failure)): the replay "
                        + "runs as uid \(identity.uid), shared with other drills")
            } else {
                notes.append(
                    "the tool runs as root: the replay runs as uid \(identity.uid), gid \(identity.gid), "
                        + "this drill's own")
            }

            if let reason = FileSystem.unreadableReason(setFolder, uid: identity.uid, gid: identity.gid) {
                try replayFromCopy(gid: identity.gid) { copy in
                    "the set folder is not readable by uid \(identity.uid) (\(reason)): replayed from a read-only copy in \(copy), removed after the replay"
                }
            }
            var extras = request.extraReadOnly.map { $0.resolvingSymlinks() }
            if !script.isDescendantOrSelf(of: setFolder) { extras.append(script) }
            for (index, extra) in extras.enumerated() where FileManager.default.fileExists(atPath: extra.pathString) {
                if let reason = FileSystem.unreadableReason(extra, uid: identity.uid, gid: identity.gid) {
                    let folder = sandbox.appending(component: Self.readOnlyCopyFolder)
                    let copy = folder.appending(component: "\(index)-\(extra.basename)")
                    try FileSystem.copyPrivate(extra, to: copy, folder: folder, uid: identity.uid, gid: identity.gid)
                    notes.append(
                        "\(extra) is not readable by uid \(identity.uid) (\(reason)): the replay reads a copy, wiped after it"
                    )
                    arguments = arguments.map { $0 == extra.pathString ? copy.pathString : $0 }
                    if script == extra { script = copy }
                    wipeAfter.append(copy)
                } else {
                    readOnly.append(extra)
                }
            }
        } else {
            readOnly = request.extraReadOnly.map { $0.resolvingSymlinks() }
            if !script.isDescendantOrSelf(of: setFolder) { readOnly.append(script) }
        }

        // A secret goes only to the script the drill verified: replay a copy of the set made
        // now, after the check, and only when its script still has the verified digest (a script
        // swapped in the set meanwhile never runs).
        if let verified = request.scriptSHA256 {
            if !setFolder.isDescendantOrSelf(of: sandbox) {
                try replayFromCopy(gid: identity?.gid ?? getgid()) { _ in
                    "replayed from a private copy of the set made after its check, removed after the replay"
                }
            }
            var info = stat()
            let regular = lstat(script.pathString, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            let got = regular ? (try? SHA256Digest.file(at: script.pathString))?.sha256 : nil
            guard got == verified else {
                for path in removeAfter { _ = FileSystem.removeTree(path) }
                throw RestoreDrillError.runtime(
                    "the restore script changed after the drill verified it (SHA-256 \(verified), now "
                        + "\(got ?? "not a regular file")): not replayed, no secret handed")
            }
        }

        // The scrubbed environment.
        var environment: [String: String] = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": request.environment["HOME"]
                ?? (FileSystem.isFolder(sandbox.appending(component: "home"))
                    ? sandbox.appending(component: "home").pathString : sandbox.pathString),
            "TMPDIR": tmp.pathString,
            "LC_ALL": "C",
        ]
        environment.merge(request.environment) { _, requested in requested }
        let mark = UUID().uuidString
        environment[Self.markVariable] = mark

        var inner = [shell, script.pathString] + arguments
        if request.secret != nil {
            // The secret comes on standard input, a pipe the runner fills and closes; this tiny
            // wrapper (innermost, after prlimit, setpriv and bwrap, which all pass descriptors on)
            // moves it to descriptor 3 and gives the script /dev/null as its standard input.
            inner = ["/bin/sh", "-c", Self.secretWrapper, "restore-drill-secret"] + inner
        }
        let limits = request.limits
        let cpu = max(1, Int(limits.cpu.rounded(.up)))
        var argv: [String]
        #if os(Linux)
            var applied: Set<ReplayLimit> = []
            var stoppedBy: Set<ReplayLimit> = []
            // The memory and pids cgroup, made last before the run so that nothing thrown
            // before it leaves a group behind; the outermost process enters it (the prelude).
            let (cgroup, cgroupNotes) = ReplayCgroup.make(
                name: ReplayCgroup.groupName(mark: mark), memory: limits.memory, processes: limits.processes)
            notes += cgroupNotes
            applied.formUnion(cgroup.applied)
            var prelude = cgroup.procsFiles.map { "cgroup=" + $0 }
            // With the pids cgroup in force, no RLIMIT_NPROC (see the type's doc).
            let nproc =
                cgroup.applied.contains(.pidsCgroup) ? [] : ["--nproc=\(limits.processes):\(limits.processes)"]
            let outcome: ProcessOutcome
            var watched: (watchdog: ByteWatchdog, passed: Int64?)?
            // The groups go with any error thrown before the replay ends.
            var removeCgroupOnExit = true
            defer { if removeCgroupOnExit { _ = cgroup.remove() } }
            argv = [
                prlimit, "--cpu=\(cpu):\(cpu)", "--as=\(limits.memory):\(limits.memory)",
                "--fsize=\(limits.fileSize):\(limits.fileSize)", "--nofile=\(limits.openFiles):\(limits.openFiles)",
            ]
            argv += nproc + ["--"]
            if !dropPrefix.isEmpty {
                // Under bubblewrap the sandbox sets no_new_privs itself (and a setuid bwrap needs it unset).
                argv += dropPrefix + (bwrap == nil ? ["--no-new-privs", "--"] : ["--"])
            }
            if let bwrap {
                let etc = try Self.writeReplayEtc(in: sandbox, identity: identity)
                argv += [bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
                argv += Self.systemBinds()
                argv += etc
                argv += [
                    "--dev", "/dev", "--proc", "/proc", "--size", String(Self.sharedMemoryCap), "--tmpfs", "/dev/shm",
                    "--tmpfs", "/tmp", "--bind", sandbox.pathString, sandbox.pathString,
                ]
                applied.insert(.shmCap)
                argv += ["--ro-bind", setFolder.pathString, setFolder.pathString]
                for path in readOnly { argv += ["--ro-bind-try", path.pathString, path.pathString] }
                // The private /tmp holds the mount points of a sandbox or set under /tmp; make it
                // read-only too (binds under it stay as they are), so only the sandbox is writable.
                // So are bubblewrap's own root and /dev (tmpfs of half the RAM each otherwise);
                // /dev/shm and the sandbox are mounts of their own and stay writable.
                argv += ["--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/"]
                if let filter = try Self.writeSeccompFilter(in: sandbox) {
                    // The prelude opens it on descriptor 4; bubblewrap reads and closes it.
                    prelude.append("seccomp=" + filter.pathString)
                    argv += ["--seccomp", String(Self.seccompDescriptor)]
                    applied.insert(.seccomp)
                } else {
                    notes.append("seccomp not applied: no filter is built for this architecture")
                }
                argv += ["--chdir", request.workingDirectory.pathString, "--clearenv"]
                for (key, value) in environment.sorted(by: { $0.key < $1.key }) { argv += ["--setenv", key, value] }
                argv += ["--"]
            } else {
                notes.append("shm cap and seccomp not applied: they come with bubblewrap")
            }
            argv += inner
            if !prelude.isEmpty {
                argv = ["/bin/sh", "-c", Self.preludeScript, "restore-drill-prelude"] + prelude + ["--"] + argv
            }

            let replayUID = identity?.uid ?? getuid()
            let markEntry = "\(Self.markVariable)=\(mark)"
            let watchdog = request.byteBound.flatMap { bound in
                SubprocessRunner.which("du", path: toolPath).map {
                    ByteWatchdog(folder: sandbox, bound: bound, du: $0)
                }
            }
            if request.byteBound == nil {
                notes.append("byte bound not applied: the request sets none")
            } else if watchdog == nil {
                notes.append("byte bound not applied: du not found on \(toolPath)")
            } else {
                applied.insert(.byteBound)
            }
            let watch = watchdog.map { watchdog in
                Task {
                    await watchdog.watch {
                        // The whole replay: its cgroup, and every process carrying its mark.
                        cgroup.killAll()
                        _ = ReplaySweep.kill(uid: replayUID, mark: markEntry)
                    }
                }
            }
            let processRequest = ProcessRequest(
                executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
                workingDirectory: request.workingDirectory.pathString, standardInput: request.secret,
                outputLimit: request.outputCap,
                timeout: request.timeout)
            do {
                outcome = try await runner.run(processRequest)
            } catch {
                watch?.cancel()
                throw error
            }
            watch?.cancel()
            if let watchdog, let watch {
                var passed = await watch.value
                if passed == nil, let bytes = await watchdog.measure(), bytes > watchdog.bound {
                    // Written between the last measurement and the end of the replay.
                    passed = bytes
                }
                watched = (watchdog, passed)
            }
            stoppedBy.formUnion(cgroup.stops())
            let removal = cgroup.remove()
            removeCgroupOnExit = false
            notes += removal.notes
            if let watched, let passed = watched.passed {
                stoppedBy.insert(.byteBound)
                notes.append(
                    "stopped by the byte bound: the sandbox held \(Units.humanBytes(passed)), more than "
                        + "\(Units.humanBytes(watched.watchdog.bound))")
                // The bound is measured every 250 ms, so a burst (fallocate) can pass it by far
                // before the kill: what the replay wrote is removed now, never kept for forensics
                // on a disk it filled (the report keeps the figures).
                let written = ["home", "work", "tmp"].map { sandbox.appending(component: $0) }
                var removed = true
                for folder in written where FileManager.default.fileExists(atPath: folder.pathString) {
                    if !FileSystem.removeTree(folder) { removed = false }
                    _ = mkdir(folder.pathString, 0o700)
                }
                notes.append(
                    removed
                        ? "the replay's files were removed from the sandbox (past the byte bound: not kept)"
                        : "could not remove every file the replay wrote past the byte bound")
            }
            if stoppedBy.contains(.memoryCgroup) {
                notes.append(
                    "the memory cgroup (\(Units.humanBytes(limits.memory))) killed a process of the replay")
            }
            if stoppedBy.contains(.pidsCgroup) {
                notes.append("the pids cgroup (\(limits.processes) processes) refused a fork")
            }
            // Without a PID namespace a script can leave its process group: its cgroups were
            // emptied above, and every process of the replay's uid that carries this replay's
            // mark is killed too.
            let swept =
                removal.killed
                + (bwrap == nil
                    ? ReplaySweep.kill(uid: identity?.uid ?? getuid(), mark: "\(Self.markVariable)=\(mark)") : 0)
            if swept > 0 { notes.append("killed \(swept) leftover process(es) of the replay after it ended") }
        #else
            let blocks = limits.fileSize / 512
            let kib = limits.memory / 1024
            let ulimits =
                "ulimit -t \(cpu) 2>/dev/null; ulimit -v \(kib) 2>/dev/null; ulimit -f \(blocks) 2>/dev/null; "
                + "ulimit -n \(limits.openFiles) 2>/dev/null; ulimit -u \(limits.processes) 2>/dev/null; exec \"$@\""
            argv = ["/bin/sh", "-c", ulimits, "restore-drill-replay"] + inner
            let applied: Set<ReplayLimit> = []
            let stoppedBy: Set<ReplayLimit> = []
            notes.append("memory cgroup, pids cgroup, shm cap, byte bound and seccomp exist only on Linux")
            let processRequest = ProcessRequest(
                executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
                workingDirectory: request.workingDirectory.pathString, standardInput: request.secret,
                outputLimit: request.outputCap,
                timeout: request.timeout)
            let outcome = try await runner.run(processRequest)
        #endif
        if bwrap != nil {
            do {
                try RestoreSandbox.wipe([sandbox.appending(component: Self.etcFolder)], inside: sandbox)
            } catch {
                notes.append("could not remove the replay's /etc files: \(error)")
            }
        }
        if identity != nil {
            // The folder back to root (still 0700), and its marker as it was before the replay.
            lchown(sandbox.pathString, 0, 0)
            chmod(sandbox.pathString, 0o700)
            if let marker, !Self.restoreMarker(marker, in: sandbox) {
                notes.append("could not restore the sandbox marker the replay changed")
            }
            if let secretsRecord,
                !Self.restoreMarker(secretsRecord, in: sandbox, name: Self.secretsRecordName, mode: 0o600)
            {
                notes.append("could not restore the drill's secrets record the replay changed")
            }
        }
        for path in removeAfter where !FileSystem.removeTree(path) {
            notes.append("could not remove the set's copy \(path)")
        }
        if !wipeAfter.isEmpty {
            do {
                try RestoreSandbox.wipe(wipeAfter, inside: sandbox)
            } catch {
                notes.append("could not wipe the copied read-only files: \(error)")
            }
        }
        if outcome.timedOut {
            notes.append("timed out after \(Units.humanSeconds(request.timeout)): process tree killed")
        }
        if outcome.outputTruncated {
            notes.append(
                "output passed the cap of \(Units.humanBytes(Int64(request.outputCap))): replay stopped, tail kept")
        }
        return ReplayOutcome(
            process: outcome, isolation: bwrap == nil ? .none : .bubblewrap, uid: identity?.uid, notes: notes,
            limits: ReplayLimits(applied: applied), stoppedBy: stoppedBy.sorted())
    }

    #if os(Linux)
        /// Decides bubblewrap or none for `mode`.
        /// - Returns: the `bwrap` path to use, or nil for isolation none.
        /// - Throws: ``RestoreDrillError/isolationRefused(_:)`` when `mode` is `auto`, bubblewrap is
        ///   unavailable and `fallback` is false.
        private func decideIsolation(
            _ mode: RestoreDrillConfig.IsolationMode, fallback: Bool, dropPrefix: [String], notes: inout [String]
        ) async throws -> String? {
            if mode == .none {
                notes.append(
                    "sandbox.isolation is none: isolation none (limits, timeout and scrubbed environment only)")
                return nil
            }
            guard let bwrap = SubprocessRunner.which("bwrap", path: toolPath) else {
                if mode == .bubblewrap {
                    throw RestoreDrillError.runtime(
                        "sandbox.isolation is bubblewrap, but bwrap was not found on \(toolPath)")
                }
                guard fallback else { throw RestoreDrillError.isolationRefused("bwrap was not found on \(toolPath)") }
                notes.append("bubblewrap not found: isolation none")
                return nil
            }
            let probe = dropPrefix.isEmpty ? [bwrap] : dropPrefix + ["--", bwrap]
            let argv =
                probe + ["--unshare-all"] + Self.systemBinds() + [
                    "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--size", String(Self.sharedMemoryCap),
                    "--tmpfs", "/tmp", "true",
                ]
            let failure = try await probes.result(for: argv) {
                let outcome = try await runner.run(
                    ProcessRequest(
                        executable: argv[0], arguments: Array(argv.dropFirst()), environment: ["PATH": "/usr/bin:/bin"],
                        workingDirectory: "/", outputLimit: 64 << 10, timeout: 20))
                if outcome.succeeded { return nil }
                let said = String(decoding: outcome.tail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                return said.isEmpty
                    ? "exit \(outcome.exitCode.map(String.init) ?? "signal \(outcome.signal ?? 0)")" : said
            }
            if let failure {
                if mode == .bubblewrap {
                    throw RestoreDrillError.runtime(
                        "sandbox.isolation is bubblewrap, but bubblewrap does not work here: \(failure)")
                }
                guard fallback else {
                    throw RestoreDrillError.isolationRefused("bubblewrap does not work here (\(failure))")
                }
                notes.append("bubblewrap does not work here (\(failure)): isolation none")
                return nil
            }
            return bwrap
        }
    #endif

    /// The folders inside the sandbox that hold read-only copies of an unreadable set and of
    /// unreadable extra files: `set` and `readonly`.
    static let setCopyFolder = ReplayRequest.verifiedCopyFolder
    static let readOnlyCopyFolder = "readonly"
    /// The folder inside the sandbox holding the replay's generated `/etc` files (`passwd`,
    /// `group`, `nsswitch.conf`) and its seccomp filter (``seccompFileName``) during a bubblewrap
    /// replay: `.replay-etc`, removed after it.
    static let etcFolder = ".replay-etc"
    /// The drill's record of where secrets land in the sandbox (`SandboxLease` in the Verifier):
    /// `.restore-drill-secrets`, left root's so the replay cannot rewrite it.
    static let secretsRecordName = ".restore-drill-secrets"

    /// The seccomp filter's file in ``etcFolder`` (``SeccompFilter``, 0444), removed with it.
    static let seccompFileName = "seccomp.bpf"

    /// The descriptor on which the prelude opens the seccomp filter for bubblewrap's `--seccomp`:
    /// 4 (3 carries the secret). bubblewrap closes it after reading, so the script never has it.
    static let seccompDescriptor: Int32 = 4

    /// The `sh -c` text run first, as the tool's user (root before `setpriv` drops it), with
    /// arguments `cgroup=FILE`… `seccomp=FILE` `--` and then the replay's argv: it writes its own
    /// pid into each cgroup's `cgroup.procs` (so the replay is born in its cgroups), opens the
    /// seccomp filter on descriptor ``seccompDescriptor``, and execs the rest. If it cannot, the
    /// replay does not run (exit 125, or the shell's 2 when the filter cannot be opened).
    static let preludeScript =
        "for a; do case $a in cgroup=*) echo $$ > \"${a#cgroup=}\" || exit 125;; "
        + "seccomp=*) exec \(seccompDescriptor)< \"${a#seccomp=}\" || exit 125;; --) break;; esac; shift; done; "
        + "shift; exec \"$@\""

    /// Writes ``SeccompFilter/program`` into ``etcFolder`` (root's when the tool runs as root;
    /// the folder exists under bubblewrap).
    /// - Returns: the file, or nil when no filter is built for this architecture.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be written.
    static func writeSeccompFilter(in sandbox: AbsolutePath) throws -> AbsolutePath? {
        guard let program = SeccompFilter.program else { return nil }
        let path = sandbox.appending(component: etcFolder).appending(component: seccompFileName)
        _ = unlink(path.pathString)
        let fd = open(path.pathString, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o444)
        guard fd >= 0 else {
            throw RestoreDrillError.io(path: path.pathString, message: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let data = SeccompFilter.bytes(program)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else {
            throw RestoreDrillError.io(path: path.pathString, message: "short write")
        }
        return path
    }

    /// The size of the replay's `/dev/shm` under bubblewrap, bytes: 8 MiB (a tmpfs of that size;
    /// a write past it fails with ENOSPC), so that a script cannot hold memory in shared memory
    /// beyond its `memory` limit.
    public static let sharedMemoryCap = 8 << 20

    /// The folders of the system's programs and libraries a replay sees, read-only: `/usr`, and
    /// `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` as they exist (a link, as on
    /// merged-/usr systems, is made the same link).
    static let systemFolders = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]

    /// The host's `/etc` entries a replay sees, each bound read-only on its own when it exists:
    /// the dynamic linker's cache, the time zone, OpenSSL's configuration, and Debian's
    /// `alternatives` links (`awk`, `editor` … point through it). Never the rest of `/etc`.
    static let hostEtcFiles = [
        "/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/openssl.cnf", "/etc/alternatives",
    ]

    /// bubblewrap arguments for ``systemFolders``: `--ro-bind` for a folder, `--symlink` for a link.
    static func systemBinds() -> [String] {
        var arguments: [String] = []
        for folder in systemFolders {
            var info = stat()
            guard lstat(folder, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder) else { continue }
                arguments += ["--symlink", target, folder]
            case S_IFDIR:
                arguments += ["--ro-bind", folder, folder]
            default:
                continue
            }
        }
        return arguments
    }

    /// Writes the replay's `passwd`, `group` (only root, the replay's uid and gid and the tool's
    /// own, group members dropped) and `nsswitch.conf` (files only) into ``etcFolder`` (0755,
    /// files 0444, root's when the tool runs as root).
    /// - Returns: bubblewrap arguments binding them and ``hostEtcFiles`` read-only into `/etc`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the files cannot be written.
    static func writeReplayEtc(in sandbox: AbsolutePath, identity: (uid: UInt32, gid: UInt32)?) throws -> [String] {
        let folder = sandbox.appending(component: etcFolder)
        let uids: Set<String> = ["0", String(getuid()), identity.map { String($0.uid) } ?? "0"]
        let gids: Set<String> = ["0", String(getgid()), identity.map { String($0.gid) } ?? "0"]
        func lines(of path: String, keeping ids: Set<String>, dropMembers: Bool) -> [String] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard fields.count >= 4, ids.contains(fields[2]) else { return nil }
                if dropMembers { fields[3] = "" }
                return fields.joined(separator: ":")
            }
        }
        var passwd = lines(of: "/etc/passwd", keeping: uids, dropMembers: false)
        var group = lines(of: "/etc/group", keeping: gids, dropMembers: true)
        if let identity {
            if !passwd.contains(where: {
                $0.split(separator: ":").dropFirst(2).first == Substring(String(identity.uid))
            }) {
                passwd.append(
                    "replay:x:\(identity.uid):\(identity.gid):restore drill replay:/nonexistent:/usr/sbin/nologin")
            }
            if !group.contains(where: { $0.split(separator: ":").dropFirst(2).first == Substring(String(identity.gid)) }
            ) {
                group.append("replay:x:\(identity.gid):")
            }
        }
        let files = [
            ("passwd", passwd.joined(separator: "\n") + "\n"), ("group", group.joined(separator: "\n") + "\n"),
            ("nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"),
        ]
        do {
            if FileManager.default.fileExists(atPath: folder.pathString) {
                RestoreSandbox.makeWritable(folder)
                try FileManager.default.removeItem(atPath: folder.pathString)
            }
            guard mkdir(folder.pathString, 0o755) == 0 else {
                throw RestoreDrillError.io(path: folder.pathString, message: String(cString: strerror(errno)))
            }
            chmod(folder.pathString, 0o755)
            for (name, text) in files {
                let path = folder.appending(component: name).pathString
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
                chmod(path, 0o444)
            }
        } catch let error as RestoreDrillError {
            throw error
        } catch {
            throw RestoreDrillError.io(path: folder.pathString, message: error.localizedDescription)
        }
        var arguments: [String] = []
        for (name, _) in files {
            arguments += ["--ro-bind", folder.appending(component: name).pathString, "/etc/" + name]
        }
        for path in hostEtcFiles { arguments += ["--ro-bind-try", path, path] }
        return arguments
    }

    /// Puts the sandbox's file `name` (the marker by default; also the drill's secrets record) back
    /// as `content` (a regular file of root's, `mode`) when the replay removed or changed it.
    /// - Returns: false when it could not.
    static func restoreMarker(
        _ content: Data, in sandbox: AbsolutePath, name: String = RestoreSandbox.markerName, mode: Int = 0o444
    ) -> Bool {
        let path = sandbox.appending(component: name)
        var info = stat()
        if lstat(path.pathString, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == 0,
            FileManager.default.contents(atPath: path.pathString) == content
        {
            return true
        }
        if lstat(path.pathString, &info) == 0 {
            RestoreSandbox.makeWritable(path)
            guard (try? FileManager.default.removeItem(atPath: path.pathString)) != nil else { return false }
        }
        return FileManager.default.createFile(
            atPath: path.pathString, contents: content, attributes: [.posixPermissions: mode])
    }

    /// The contents of `path` when it is a regular file (opened without following a link or
    /// waiting on a FIFO), else nil.
    static func regularFileContents(_ path: AbsolutePath) -> Data? {
        let fd = open(path.pathString, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: false).readDataToEndOfFile()
    }

    /// The `sh -c` text that moves standard input (the pipe holding ``ReplayRequest/secret``) to
    /// descriptor ``ReplayRequest/secretDescriptor``, puts /dev/null on standard input, and
    /// execs its arguments. swift-subprocess closes every descriptor above 2 in the child, so the
    /// pipe can only arrive as standard input.
    static let secretWrapper = "exec \(ReplayRequest.secretDescriptor)<&0 </dev/null; exec \"$@\""

    /// The variable that marks every process of one replay (a random UUID), so that processes a
    /// replay left behind can be found: `RESTORE_DRILL_REPLAY`.
    public static let markVariable = "RESTORE_DRILL_REPLAY"

    /// `path` moved from inside `from` to the same place inside `to`; else unchanged.
    static func rebase(_ path: AbsolutePath, from: AbsolutePath, to: AbsolutePath) -> AbsolutePath {
        path.relative(to: from).map { to.appending($0) } ?? path
    }

    /// An argument that names a path inside `from`, moved to the same place inside `to`; any
    /// other argument unchanged.
    static func rebase(_ argument: String, from: AbsolutePath, to: AbsolutePath) -> String {
        guard argument.hasPrefix("/"), let path = try? AbsolutePath(validating: argument),
            let inside = path.relative(to: from)
        else { return argument }
        return to.appending(inside).pathString
    }
}

#if os(Linux)
    /// Kills the processes a replay left behind, found through /proc (a process's environment is
    /// readable by its own uid and by root).
    enum ReplaySweep {
        /// Sends SIGKILL to every process whose real uid is `uid` and whose environment holds the
        /// exact entry `mark` (`NAME=value`), repeating until none is left (a forking script
        /// races the sweep) or 100 rounds.
        /// - Returns: how many signals were sent.
        static func kill(uid: UInt32, mark: String) -> Int {
            let needle = Data(mark.utf8)
            var sent = 0
            for _ in 0..<100 {
                var found = 0
                for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                    guard let pid = Int32(name), pid > 1, realUID(pid) == uid,
                        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                        environ.split(separator: 0).contains(where: { $0.elementsEqual(needle) })
                    else { continue }
                    if Glibc.kill(pid, SIGKILL) == 0 { found += 1 }
                }
                if found == 0 { break }
                sent += found
                usleep(20_000)
            }
            return sent
        }

        private static func realUID(_ pid: Int32) -> UInt32? { uids(pid).first }

        /// The real, effective, saved and file-system uids of `pid`, from the `Uid:` line of
        /// `/proc/<pid>/status` (proc(5)); empty when it cannot be read.
        static func uids(_ pid: Int32) -> [UInt32] {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
            else { return [] }
            return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().compactMap { UInt32($0) }
        }
    }
#endif

/// The result of the bubblewrap probe, computed once per argv.
final class ProbeCache: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [[String]: String?] = [:]

    /// The cached failure reason (nil: bubblewrap works) for `argv`, computing it once.
    func result(for argv: [String], compute: () async throws -> String?) async throws -> String? {
        if let cached = lock.withLock({ results[argv] }) { return cached }
        let value = try await compute()
        lock.withLock { results[argv] = value }
        return value
    }
}

/// File-system helpers for preparing a sandbox for another uid.
public enum FileSystem {
    /// Removes `path` and everything below it, first making its folders writable (a read-only
    /// copy is 0550); links are removed, never followed.
    /// - Returns: false when something could not be removed.
    public static func removeTree(_ path: AbsolutePath) -> Bool {
        RestoreSandbox.makeWritable(path)
        return (try? FileManager.default.removeItem(atPath: path.pathString)) != nil
    }

    static func isFolder(_ path: AbsolutePath) -> Bool {
        var info = stat()
        return stat(path.pathString, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when `uid`/`gid` (no supplementary groups) has all of `need` (r=4, w=2, x=1) on `info`.
    static func allows(_ info: stat, uid: UInt32, gid: UInt32, _ need: UInt32) -> Bool {
        let mode = UInt32(info.st_mode)
        if UInt32(info.st_uid) == uid { return (mode >> 6) & need == need }
        if UInt32(info.st_gid) == gid { return (mode >> 3) & need == need }
        return mode & need == need
    }

    /// The first folder above `path` (from `/` down) that `uid` cannot search, or nil.
    static func firstUntraversable(above path: AbsolutePath, uid: UInt32, gid: UInt32) -> String? {
        var current = AbsolutePath.root
        for part in path.components.dropLast() {
            current = current.appending(component: part)
            var info = stat()
            guard stat(current.pathString, &info) == 0 else { return current.pathString }
            if !allows(info, uid: uid, gid: gid, 1) {
                return current.pathString + " (mode \(String(UInt32(info.st_mode) & 0o7777, radix: 8)))"
            }
        }
        var root = stat()
        if stat("/", &root) == 0, !allows(root, uid: uid, gid: gid, 1) { return "/" }
        return nil
    }

    /// Why `uid` cannot read all of `path` (a file, or a folder and everything in it), or nil
    /// when it can.
    static func unreadableReason(_ path: AbsolutePath, uid: UInt32, gid: UInt32) -> String? {
        if let blocker = firstUntraversable(above: path, uid: uid, gid: gid) { return "\(blocker) is not searchable" }
        var pending = [path]
        while let current = pending.popLast() {
            var info = stat()
            guard lstat(current.pathString, &info) == 0 else { return "\(current) cannot be read" }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard allows(info, uid: uid, gid: gid, 5) else {
                    return "\(current) is mode \(String(UInt32(info.st_mode) & 0o7777, radix: 8))"
                }
                for name in (try? FileManager.default.contentsOfDirectory(atPath: current.pathString)) ?? [] {
                    pending.append(current.appending(component: name))
                }
            case S_IFREG:
                guard allows(info, uid: uid, gid: gid, 4) else {
                    return "\(current) is mode \(String(UInt32(info.st_mode) & 0o7777, radix: 8))"
                }
            default:
                continue
            }
        }
        return nil
    }

    /// Gives everything inside `folder` (not `folder` itself, not the top-level names in
    /// `except`) to `uid`/`gid`, never following links.
    static func chownContents(of folder: AbsolutePath, uid: UInt32, gid: UInt32, except: Set<String>) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.pathString)) ?? []
        where !except.contains(name) {
            chownTree(folder.appending(component: name), uid: uid, gid: gid)
        }
    }

    private static func chownTree(_ path: AbsolutePath, uid: UInt32, gid: UInt32) {
        var info = stat()
        guard lstat(path.pathString, &info) == 0 else { return }
        lchown(path.pathString, uid, gid)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path.pathString)) ?? [] {
                chownTree(path.appending(component: name), uid: uid, gid: gid)
            }
        }
    }

    /// Copies `source` to `destination` (inside `parent`, made 0711) and makes the copy read-only
    /// and private to the replay: group `gid` (the replay's), owner unchanged (root), folders
    /// 0550, files 0440 (0550 when the original was executable), nothing for other users, as the
    /// set itself is private (issue 11).
    static func copyReadOnly(
        _ source: AbsolutePath, to destination: AbsolutePath, parent: AbsolutePath, gid: UInt32
    ) throws {
        do {
            try FileManager.default.createDirectory(atPath: parent.pathString, withIntermediateDirectories: true)
            chmod(parent.pathString, 0o711)
            if FileManager.default.fileExists(atPath: destination.pathString) {
                // A copy from an earlier replay in the same sandbox: replace it.
                RestoreSandbox.makeWritable(destination)
                try FileManager.default.removeItem(atPath: destination.pathString)
            }
            try FileManager.default.copyItem(atPath: source.pathString, toPath: destination.pathString)
        } catch {
            throw RestoreDrillError.io(
                path: destination.pathString,
                message: "cannot copy the set for the replay: \(error.localizedDescription)")
        }
        makeReadOnly(destination, parent: parent, gid: gid)
    }

    /// Makes the copy `destination` (inside `parent`, made 0711) read-only and readable by group
    /// `gid` only (nil: the owner's own group): owner unchanged, folders 0550, files 0440 (0550
    /// when executable). Links are left as they are, never followed.
    static func makeReadOnly(_ destination: AbsolutePath, parent: AbsolutePath, gid: UInt32?) {
        chmod(parent.pathString, 0o711)
        let group = gid ?? UInt32.max
        var pending = [destination]
        while let current = pending.popLast() {
            var info = stat()
            guard lstat(current.pathString, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                for name in (try? FileManager.default.contentsOfDirectory(atPath: current.pathString)) ?? [] {
                    pending.append(current.appending(component: name))
                }
                lchown(current.pathString, UInt32.max, group)
                chmod(current.pathString, 0o550)
            case S_IFREG:
                lchown(current.pathString, UInt32.max, group)
                chmod(current.pathString, (info.st_mode & 0o111) != 0 ? 0o550 : 0o440)
            default:
                continue
            }
        }
    }

    /// Copies the file `source` to `destination` (in `folder`, made 0711) with mode 0400, owned
    /// by `uid`/`gid`.
    static func copyPrivate(
        _ source: AbsolutePath, to destination: AbsolutePath, folder: AbsolutePath, uid: UInt32, gid: UInt32
    ) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder.pathString, withIntermediateDirectories: true)
            chmod(folder.pathString, 0o711)
            guard let data = FileManager.default.contents(atPath: source.pathString) else {
                throw RestoreDrillError.io(path: source.pathString, message: "cannot read")
            }
            _ = unlink(destination.pathString)  // a copy left by an earlier replay
            let fd = open(destination.pathString, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o400)
            guard fd >= 0 else {
                throw RestoreDrillError.io(path: destination.pathString, message: String(cString: strerror(errno)))
            }
            defer { close(fd) }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == data.count else {
                throw RestoreDrillError.io(path: destination.pathString, message: "short write")
            }
            fchown(fd, uid, gid)
        } catch let error as RestoreDrillError {
            throw error
        } catch {
            throw RestoreDrillError.io(path: destination.pathString, message: error.localizedDescription)
        }
    }
}
