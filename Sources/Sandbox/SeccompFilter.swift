import Foundation

/// The seccomp filter a replay runs under with bubblewrap (`bwrap --seccomp FD`): a classic BPF
/// program over `struct seccomp_data` that refuses creating unix sockets, so that no host daemon's
/// socket can be reached even if a path to one were visible (issue 11), and allows everything
/// else.
///
/// The program, for the architecture the tool was built for:
/// 1. `arch` is not this architecture (`AUDIT_ARCH_X86_64` or `AUDIT_ARCH_AARCH64`; a 32-bit
///    binary through the compat entry, whose syscall numbers differ): kill the process;
/// 2. on x86_64, a syscall number with the x32 bit (`0x40000000`) set: EPERM;
/// 3. `io_uring_setup` (425): EPERM, because an io_uring's `IORING_OP_SOCKET` makes a socket
///    without the `socket` syscall the filter sees;
/// 4. `socket` (41 on x86_64, 198 on aarch64) whose first argument's low 32 bits (the domain,
///    an `int`) are `AF_UNIX` (1): EPERM;
/// 5. anything else, including `socket(AF_INET, …)` and `socketpair(AF_UNIX, …)` (a connected
///    pair reaches nothing outside): allowed.
///
/// Each instruction is 8 bytes, `struct sock_filter` in the byte order of both architectures
/// (little-endian): `code` (16 bits), `jt`,
/// `jf` (8 bits each), `k` (32 bits).
enum SeccompFilter {
    /// `struct sock_filter`.
    struct Instruction: Equatable {
        var code: UInt16
        var jt: UInt8
        var jf: UInt8
        var k: UInt32
    }

    // Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
    static let loadWord: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let jumpEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    static let jumpGreaterOrEqual: UInt16 = 0x35  // BPF_JMP | BPF_JGE | BPF_K
    static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K
    static let allow: UInt32 = 0x7fff_0000  // SECCOMP_RET_ALLOW
    static let killProcess: UInt32 = 0x8000_0000  // SECCOMP_RET_KILL_PROCESS
    /// `SECCOMP_RET_ERRNO | EPERM`.
    static let refuse: UInt32 = 0x0005_0000 | 1

    // Offsets in struct seccomp_data: nr (int), arch (u32), instruction_pointer (u64), args[6] (u64).
    static let numberOffset: UInt32 = 0
    static let archOffset: UInt32 = 4
    /// The low 32 bits of `args[0]` on a little-endian machine.
    static let firstArgumentLowOffset: UInt32 = 16

    static let afUnix: UInt32 = 1
    static let ioUringSetup: UInt32 = 425

    /// The architecture's audit value and `socket` syscall number, or nil where the filter is
    /// not built (then the report says `limits: partial (seccomp)`).
    static var architecture: (audit: UInt32, socket: UInt32, x32: Bool)? {
        #if os(Linux) && arch(x86_64)
            return (0xC000_003E, 41, true)
        #elseif os(Linux) && arch(arm64)
            return (0xC000_00B7, 198, false)
        #else
            return nil
        #endif
    }

    /// The program for this architecture; nil where there is none.
    static var program: [Instruction]? {
        guard let architecture else { return nil }
        return program(audit: architecture.audit, socket: architecture.socket, x32: architecture.x32)
    }

    /// The program for an architecture (the steps above).
    /// - Parameters:
    ///   - audit: the `AUDIT_ARCH_*` value.
    ///   - socket: the `socket` syscall number.
    ///   - x32: whether syscall numbers with the x32 bit are refused (x86_64).
    static func program(audit: UInt32, socket: UInt32, x32: Bool) -> [Instruction] {
        var out: [Instruction] = [
            Instruction(code: loadWord, jt: 0, jf: 0, k: archOffset),
            Instruction(code: jumpEqual, jt: 1, jf: 0, k: audit),
            Instruction(code: returnConstant, jt: 0, jf: 0, k: killProcess),
            Instruction(code: loadWord, jt: 0, jf: 0, k: numberOffset),
        ]
        if x32 {
            out += [
                Instruction(code: jumpGreaterOrEqual, jt: 0, jf: 1, k: 0x4000_0000),
                Instruction(code: returnConstant, jt: 0, jf: 0, k: refuse),
            ]
        }
        out += [
            Instruction(code: jumpEqual, jt: 0, jf: 1, k: ioUringSetup),
            Instruction(code: returnConstant, jt: 0, jf: 0, k: refuse),
            Instruction(code: jumpEqual, jt: 0, jf: 3, k: socket),
            Instruction(code: loadWord, jt: 0, jf: 0, k: firstArgumentLowOffset),
            Instruction(code: jumpEqual, jt: 0, jf: 1, k: afUnix),
            Instruction(code: returnConstant, jt: 0, jf: 0, k: refuse),
            Instruction(code: returnConstant, jt: 0, jf: 0, k: allow),
        ]
        return out
    }

    /// `instructions` as the bytes bubblewrap reads from its `--seccomp` descriptor (8 bytes
    /// each, little-endian).
    static func bytes(_ instructions: [Instruction]) -> Data {
        var data = Data(capacity: instructions.count * 8)
        for instruction in instructions {
            withUnsafeBytes(of: instruction.code.littleEndian) { data.append(contentsOf: $0) }
            data.append(instruction.jt)
            data.append(instruction.jf)
            withUnsafeBytes(of: instruction.k.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }
}
