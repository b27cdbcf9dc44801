/// # Jobs
///
/// What one command does, composed from the stages, so the executable only parses arguments,
/// calls one function here and renders the outcome:
/// - ``BackupJob``: the backup engine, then a history event (and hooks);
/// - ``DrillJob``: pick a set, run the drill in a sandbox, write the reports, record the drill;
/// - ``DemoJob``: a ``SampleWorkspace`` backed up and drilled end to end.
///
/// Terms are docs/ARCHITECTURE.md's (backup set, drill, sandbox, check). An interrupted job leaves what its
/// stages leave: a `.partial-<id>` folder in the destination (never taken for a set), a sandbox
/// folder, a report folder without a history event.
import DrillCore
import Foundation
