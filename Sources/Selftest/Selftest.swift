/// # Selftest
///
/// `restore-drill selftest` and the sample data it and the demo are made from:
/// - ``SampleWorkspace``: a generated workspace (source files, databases, a chunked database,
///   LaunchAgents, dotfiles, a dependency list), and ``LiveWAL``, a database kept open in WAL mode;
/// - ``SelftestJob``: backs a small sample workspace up (in set format 1 or 2), drills the good
///   set, then one damaged copy per ``DamageKind`` row, and reports whether each damage was caught
///   by the check meant to catch it; format 2 has damages of its own (a missing object, a pack
///   holding a member of another pack, two chunk objects swapped);
/// - the damage tools it uses internally: re-sealing a set's digests, crafting tar members with
///   libarchive (``Archive``), damaging SQLite copies.
///
/// An interrupted selftest leaves its working folder (`<folder>/good`, `<folder>/damaged/…`),
/// which holds only generated data; nothing outside it is written.
import DrillCore
import Foundation
