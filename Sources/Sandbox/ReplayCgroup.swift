#if os(Linux)
    import DrillCore
    import Foundation
    import Glibc

    /// The memory and pids cgroup one replay runs in (Linux), so that `sandbox.limits.memory` and
    /// `sandbox.limits.processes` bound all the replay's processes together, not each one.
    ///
    /// **Where.** cgroup v1's `memory` and `pids` hierarchies where they are mounted (a group
    /// `restore-drill-<uuid>` under the tool's own group in each, read from `/proc/self/cgroup`,
    /// else under the hierarchy's root); a controller mounted in no v1 hierarchy is taken from
    /// cgroup v2 (the unified hierarchy), where the tool's own group or the root lists it in
    /// `cgroup.controllers` and the group can be made there (root, or a delegated subtree). Where
    /// neither works (the tool is not root, nothing is delegated, the controller is absent), that
    /// limit is not applied and ``make(name:memory:processes:mountInfo:ownCgroups:)`` says why.
    ///
    /// **Limits.** v1: `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes` to the same
    /// value where it exists, so swap does not extend it) and `pids.max`; v2: `memory.max`
    /// (and `memory.swap.max` 0 where it exists) and `pids.max`.
    ///
    /// **Entering.** The replay's outermost process writes its own pid into every
    /// ``procsFiles`` entry before it execs anything (``IsolatedReplayer``'s prelude, run as the
    /// tool's user, before root is dropped), so every process of the replay is born inside.
    ///
    /// **Afterwards.** ``stops()`` reads whether the kernel killed a process for memory
    /// (`oom_kill` in v1 `memory.oom_control` or v2 `memory.events`) or refused a fork (`max` in
    /// `pids.events`); ``remove()`` kills whatever is left in the groups and removes them. A tool
    /// killed during a replay leaves its empty `restore-drill-*` groups behind (a few inodes of
    /// the cgroup file system; `rmdir` removes them).
    struct ReplayCgroup: Sendable {
        /// One group made for the replay, in one hierarchy.
        struct Group: Sendable, Equatable {
            /// The group's folder, e.g. `/sys/fs/cgroup/memory/<own group>/restore-drill-<uuid>`.
            var path: String
            /// 1 or 2.
            var version: Int
            /// The limits set in it: ``ReplayLimit/memoryCgroup``, ``ReplayLimit/pidsCgroup``.
            var limits: Set<ReplayLimit>
        }

        /// A mounted cgroup hierarchy, as `/proc/self/mountinfo` and `/proc/self/cgroup` say.
        struct Hierarchy: Equatable {
            var version: Int
            /// Where it is mounted.
            var mountPoint: String
            /// The hierarchy's folder that is mounted there (`/` unless a container mounted a part).
            var root: String
            /// v1: the controllers it carries among `memory` and `pids`; v2: empty (read from
            /// `cgroup.controllers`).
            var controllers: Set<String>
            /// This process's group in it, as `/proc/self/cgroup` names it; nil when unlisted.
            var ownPath: String?

            /// The folders a replay's group may be made in: the tool's own group, then the
            /// mount's top.
            var parents: [String] {
                var out: [String] = []
                if let ownPath {
                    if root == "/" {
                        out.append(ownPath == "/" ? mountPoint : mountPoint + ownPath)
                    } else if ownPath == root || ownPath.hasPrefix(root + "/") {
                        out.append(mountPoint + ownPath.dropFirst(root.count))
                    }
                }
                if !out.contains(mountPoint) { out.append(mountPoint) }
                return out
            }
        }

        /// The groups made; empty when no controller could be used.
        let groups: [Group]

        /// The limits applied: the union of the groups' ``Group/limits``.
        var applied: Set<ReplayLimit> { groups.reduce(into: []) { $0.formUnion($1.limits) } }

        /// The `cgroup.procs` file of every group, for the replay's outermost process to write its
        /// pid into.
        var procsFiles: [String] { groups.map { $0.path + "/cgroup.procs" } }

        /// The name of a replay's group: `restore-drill-` and the replay's mark (the value of
        /// ``IsolatedReplayer/markVariable``, a UUID) in lower case.
        static func groupName(mark: String) -> String { "restore-drill-" + mark.lowercased() }

        /// Makes the replay's groups and sets their limits.
        /// - Parameters:
        ///   - name: the group's folder name in each hierarchy (``groupName(mark:)``).
        ///   - memory: bytes for `memory.limit_in_bytes` / `memory.max`.
        ///   - processes: `pids.max`.
        ///   - mountInfo: the text of `/proc/self/mountinfo` (injected by tests).
        ///   - ownCgroups: the text of `/proc/self/cgroup`.
        /// - Returns: the groups made (possibly none), and one sentence per limit that could not
        ///   be applied, saying why.
        static func make(
            name: String, memory: Int64, processes: Int, mountInfo: String? = nil, ownCgroups: String? = nil
        ) -> (cgroup: ReplayCgroup, notes: [String]) {
            let hierarchies = Self.hierarchies(
                mountInfo: mountInfo ?? readText("/proc/self/mountinfo") ?? "",
                ownCgroups: ownCgroups ?? readText("/proc/self/cgroup") ?? "")
            var groups: [Group] = []
            var notes: [String] = []
            var viaV2: [ReplayLimit] = []
            for (controller, limit) in [("memory", ReplayLimit.memoryCgroup), ("pids", .pidsCgroup)] {
                guard
                    let hierarchy = hierarchies.first(where: { $0.version == 1 && $0.controllers.contains(controller) })
                else {
                    viaV2.append(limit)
                    continue
                }
                var failures: [String] = []
                for parent in hierarchy.parents {
                    switch makeV1(in: parent, name: name, limit: limit, memory: memory, processes: processes) {
                    case .success(let group): groups.append(group)
                    case .failure(let failure): failures.append(failure.text)
                    }
                    if groups.contains(where: { $0.limits.contains(limit) }) { break }
                }
                if !groups.contains(where: { $0.limits.contains(limit) }) {
                    notes.append(
                        "\(limit.rawValue) not applied: "
                            + (failures.isEmpty ? "no group" : failures.joined(separator: "; ")))
                }
            }
            if !viaV2.isEmpty {
                let wanted = viaV2
                if let unified = hierarchies.first(where: { $0.version == 2 }) {
                    var failures: [String] = []
                    var made: Set<ReplayLimit> = []
                    for parent in unified.parents {
                        switch makeV2(in: parent, name: name, wanted: wanted, memory: memory, processes: processes) {
                        case .success(let group):
                            groups.append(group)
                            made = group.limits
                        case .failure(let failure): failures.append(failure.text)
                        }
                        if !made.isEmpty { break }
                    }
                    for limit in wanted where !made.contains(limit) {
                        notes.append(
                            "\(limit.rawValue) not applied: "
                                + (failures.isEmpty
                                    ? "its controller is not enabled in the cgroup v2 group made"
                                    : failures.joined(separator: "; ")))
                    }
                } else {
                    for limit in wanted {
                        notes.append(
                            "\(limit.rawValue) not applied: no cgroup v1 \(limit == .memoryCgroup ? "memory" : "pids") "
                                + "hierarchy and no cgroup v2 hierarchy is mounted")
                    }
                }
            }
            return (ReplayCgroup(groups: groups), notes)
        }

        /// Why a group could not be made in one place.
        struct Failure: Error {
            var text: String
        }

        private static func makeV1(
            in parent: String, name: String, limit: ReplayLimit, memory: Int64, processes: Int
        ) -> Result<Group, Failure> {
            let path = parent + "/" + name
            guard mkdir(path, 0o755) == 0 else {
                return .failure(Failure(text: "cannot make a group in \(parent): \(String(cString: strerror(errno)))"))
            }
            let file = limit == .memoryCgroup ? "memory.limit_in_bytes" : "pids.max"
            let value = limit == .memoryCgroup ? String(memory) : String(processes)
            if let error = writeText(value, to: path + "/" + file) {
                rmdir(path)
                return .failure(Failure(text: "cannot set \(path)/\(file): \(error)"))
            }
            if limit == .memoryCgroup, FileManager.default.fileExists(atPath: path + "/memory.memsw.limit_in_bytes") {
                // Memory and swap together, so swap does not extend the limit (needs
                // memory.limit_in_bytes set first; absent without swap accounting).
                _ = writeText(value, to: path + "/memory.memsw.limit_in_bytes")
            }
            return .success(Group(path: path, version: 1, limits: [limit]))
        }

        private static func makeV2(
            in parent: String, name: String, wanted: [ReplayLimit], memory: Int64, processes: Int
        ) -> Result<Group, Failure> {
            let available = Set((readText(parent + "/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace))
            let controllers = wanted.filter { available.contains($0 == .memoryCgroup ? "memory" : "pids") }
            guard !controllers.isEmpty else {
                return .failure(
                    Failure(
                        text:
                            "\(parent)/cgroup.controllers lists no \(wanted.map(\.rawValue).joined(separator: " or "))")
                )
            }
            // The controllers must be enabled for the parent's children; a group that holds
            // processes itself (not the root) may refuse (EBUSY), then the next parent is tried.
            let enable = controllers.map { $0 == .memoryCgroup ? "+memory" : "+pids" }.joined(separator: " ")
            _ = writeText(enable, to: parent + "/cgroup.subtree_control")
            let path = parent + "/" + name
            guard mkdir(path, 0o755) == 0 else {
                return .failure(Failure(text: "cannot make a group in \(parent): \(String(cString: strerror(errno)))"))
            }
            var limits: Set<ReplayLimit> = []
            for limit in controllers {
                let file = path + (limit == .memoryCgroup ? "/memory.max" : "/pids.max")
                let value = limit == .memoryCgroup ? String(memory) : String(processes)
                if FileManager.default.fileExists(atPath: file), writeText(value, to: file) == nil {
                    limits.insert(limit)
                }
            }
            if limits.contains(.memoryCgroup), FileManager.default.fileExists(atPath: path + "/memory.swap.max") {
                _ = writeText("0", to: path + "/memory.swap.max")
            }
            guard !limits.isEmpty, FileManager.default.isWritableFile(atPath: path + "/cgroup.procs") else {
                rmdir(path)
                return .failure(Failure(text: "the controllers are not enabled in \(parent)'s children"))
            }
            return .success(Group(path: path, version: 2, limits: limits))
        }

        /// The cgroup hierarchies mounted, with this process's group in each.
        /// - Parameters:
        ///   - mountInfo: the text of `/proc/self/mountinfo`.
        ///   - ownCgroups: the text of `/proc/self/cgroup` (`ID:CONTROLLERS:PATH` lines; v2 is `0::PATH`).
        static func hierarchies(mountInfo: String, ownCgroups: String) -> [Hierarchy] {
            var own: [(controllers: Set<String>, path: String, v2: Bool)] = []
            for line in ownCgroups.split(separator: "\n") {
                let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count == 3 else { continue }
                let controllers = Set(fields[1].split(separator: ",").map(String.init))
                own.append((controllers, String(fields[2]), fields[0] == "0" && fields[1].isEmpty))
            }
            var out: [Hierarchy] = []
            for line in mountInfo.split(separator: "\n") {
                // ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER-OPTIONS
                let halves = line.components(separatedBy: " - ")
                guard halves.count >= 2 else { continue }
                let left = halves[0].split(separator: " ").map(String.init)
                let right = halves[1].split(separator: " ").map(String.init)
                guard left.count >= 5, right.count >= 3 else { continue }
                let root = unescape(left[3])
                let mountPoint = unescape(left[4])
                switch right[0] {
                case "cgroup":
                    let controllers = Set(right[2].split(separator: ",").map(String.init)).intersection([
                        "memory", "pids",
                    ])
                    guard !controllers.isEmpty,
                        !out.contains(where: { $0.version == 1 && !$0.controllers.isDisjoint(with: controllers) })
                    else { continue }
                    let path = own.first { !$0.v2 && !$0.controllers.isDisjoint(with: controllers) }?.path
                    out.append(
                        Hierarchy(
                            version: 1, mountPoint: mountPoint, root: root, controllers: controllers, ownPath: path))
                case "cgroup2":
                    guard !out.contains(where: { $0.version == 2 }) else { continue }
                    let path = own.first { $0.v2 }?.path
                    out.append(
                        Hierarchy(version: 2, mountPoint: mountPoint, root: root, controllers: [], ownPath: path))
                default:
                    continue
                }
            }
            return out
        }

        /// `mountinfo`'s octal escapes (`\040` for a space) decoded.
        private static func unescape(_ field: String) -> String {
            guard field.contains("\\") else { return field }
            var bytes: [UInt8] = []
            let utf8 = Array(field.utf8)
            var i = 0
            while i < utf8.count {
                if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
                    let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
                {
                    bytes.append(value)
                    i += 4
                } else {
                    bytes.append(utf8[i])
                    i += 1
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// The limits that stopped a process of the replay: ``ReplayLimit/memoryCgroup`` when the
        /// kernel killed one for memory (`oom_kill` above 0), ``ReplayLimit/pidsCgroup`` when a
        /// fork was refused (`max` above 0 in `pids.events`). Read before ``remove()``.
        func stops() -> [ReplayLimit] {
            var out: Set<ReplayLimit> = []
            for group in groups {
                if group.limits.contains(.memoryCgroup) {
                    let file = group.path + (group.version == 1 ? "/memory.oom_control" : "/memory.events")
                    if Self.counter("oom_kill", in: file) > 0 { out.insert(.memoryCgroup) }
                }
                if group.limits.contains(.pidsCgroup), Self.counter("max", in: group.path + "/pids.events") > 0 {
                    out.insert(.pidsCgroup)
                }
            }
            return out.sorted()
        }

        /// The value of the line `name VALUE` in a cgroup's flat keyed file; 0 when absent.
        static func counter(_ name: String, in path: String) -> Int64 {
            for line in (readText(path) ?? "").split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 2, fields[0] == name { return Int64(fields[1]) ?? 0 }
            }
            return 0
        }

        /// Sends SIGKILL to every process in the groups (v2: `cgroup.kill` where the kernel has it),
        /// repeating until none is left (a forking script races it) or 100 rounds.
        /// - Returns: how many signals were sent.
        @discardableResult
        func killAll() -> Int {
            var sent = 0
            for group in groups where group.version == 2 {
                if Self.writeText("1", to: group.path + "/cgroup.kill") == nil { sent += 1 }
            }
            for _ in 0..<100 {
                var found = 0
                for file in procsFiles {
                    for line in (Self.readText(file) ?? "").split(separator: "\n") {
                        if let pid = Int32(line), pid > 1, Glibc.kill(pid, SIGKILL) == 0 { found += 1 }
                    }
                }
                if found == 0 { break }
                sent += found
                usleep(20_000)
            }
            return sent
        }

        /// Kills what is left in the groups and removes them (retrying while exiting processes
        /// still count, up to about 2 s).
        /// - Returns: how many processes were killed, and a sentence per group that could not be
        ///   removed.
        func remove() -> (killed: Int, notes: [String]) {
            var killed = killAll()
            var notes: [String] = []
            for group in groups {
                var removed = false
                for _ in 0..<100 {
                    if rmdir(group.path) == 0 || errno == ENOENT {
                        removed = true
                        break
                    }
                    killed += killAll()
                    usleep(20_000)
                }
                if !removed {
                    notes.append(
                        "could not remove the replay's cgroup \(group.path): \(String(cString: strerror(errno)))")
                }
            }
            return (killed, notes)
        }
    }

    extension ReplayCgroup {
        /// The whole text of a (pseudo-)file, read until end of file; nil when it cannot be opened.
        static func readText(_ path: String) -> String? {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                data.append(contentsOf: buffer[0..<n])
            }
            return String(decoding: data, as: UTF8.self)
        }

        /// Writes `text` to the (pseudo-)file `path` in one `write`, as cgroup files need.
        /// - Returns: nil on success, else the error's text.
        static func writeText(_ text: String, to path: String) -> String? {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return String(cString: strerror(errno)) }
            defer { close(fd) }
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            return written == bytes.count ? nil : String(cString: strerror(errno))
        }
    }
#endif
