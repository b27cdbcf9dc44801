/// # Schedule
///
/// `restore-drill schedule install` and `schedule status`: the LaunchAgents (macOS) and systemd
/// user units with timers (Linux) that run the configured backup, prune, drill and health jobs
/// (``ScheduledJob``) at the configuration's `schedule` times.
/// - ``ScheduleGenerator``: the files' text, one per job and system (``ScheduleSystem``);
/// - ``ScheduleInstaller``: lints each LaunchAgent, writes each file atomically, never replaces a
///   file it did not generate, and reports what is installed.
///
/// An interrupted install leaves some files written in full and others not yet written, never a
/// truncated file.
import DrillCore
import Foundation
