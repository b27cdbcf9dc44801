import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The scheduling priority of the calling thread, for work that runs beside the critical path
/// and is awaited only later (a key derivation a backup needs at its credentials step, while the
/// compression keeps the cores busy): lowered, such work fills the moments the cores would idle
/// (disk waits) instead of taking its share from the work everyone waits for. The cost: on a
/// machine other programs keep saturated it gets a smaller share than before (5 nice steps weigh
/// about a third of a normal thread), so it may finish later there.
public enum ThreadPriority {
    /// How much ``lowerCurrentThread()`` lowers the priority: 5 nice steps (Linux's scheduler then
    /// gives the thread about a third of the weight of a normal one).
    public static let backgroundNiceSteps: Int32 = 5

    /// Lowers the calling thread's priority by ``backgroundNiceSteps`` (Linux: its nice value, which
    /// is per thread there; Darwin: the utility quality of service). Use it only on a thread made for
    /// the work (``BlockingWork`` makes one per call): it is not raised again. Never fails: a
    /// refusal leaves the priority as it was.
    public static func lowerCurrentThread() {
        #if os(Linux)
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            errno = 0
            let current = getpriority(which, 0)
            guard errno == 0 else { return }
            _ = setpriority(which, 0, min(19, current + backgroundNiceSteps))
        #elseif canImport(Darwin)
            _ = pthread_set_qos_class_self_np(QOS_CLASS_UTILITY, 0)
        #endif
    }
}
