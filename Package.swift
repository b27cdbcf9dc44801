// swift-tools-version: 6.2
// RestoreDrill: a backup engine and a restore-drill verifier that share one backup-set format.
// Layout and dependency direction: docs/ARCHITECTURE.md ("Targets", "Dependency direction"). Dependencies point down:
// DrillCore at the bottom, one library per stage on it, the thin executable on top.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "RestoreDrill",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "restore-drill", targets: ["restore-drill"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        // libdeflate: the same gzip format as zlib at the same levels, about 3.4 times faster at
        // level 6 on this workspace's source (measured: 102 MB in 1.4 s instead of 4.7 s).
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"]), .brew(["libdeflate"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]),

        // System calls Swift cannot reach (glibc's syscall(2) is variadic): openat2(2) for
        // DrillCore's BeneathRoot. Header only, Linux only.
        .systemLibrary(name: "CSyscall"),

        // A SQLite VFS (C, the documented VFS interface) that writes a database copy straight
        // into the set's chunk files.
        .target(name: "CChunkVFS", dependencies: ["CSQLite"]),

        .target(
            name: "DrillCore",
            dependencies: ["COpenSSL", "CSyscall", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // The openssl-compatible credentials vault, the keyed manifest and set authentication.
        .target(name: "Vault", dependencies: ["DrillCore", "COpenSSL"], swiftSettings: strict),
        // One Swift wrapper over libarchive's reader and writer set-up, for every stage that reads
        // or writes tar archives.
        .target(name: "Archive", dependencies: ["CArchive"], swiftSettings: strict),
        // The one seam to where sets live (list, read, write atomically, remove, lock, history)
        // and the one set catalogue with its clock rule; a local folder is the first destination.
        .target(name: "Destination", dependencies: ["DrillCore", "Vault"], swiftSettings: strict),
        .target(
            name: "Sandbox",
            dependencies: ["DrillCore", .product(name: "Subprocess", package: "swift-subprocess")],
            swiftSettings: strict),
        // Build time only: the EmbedShellTemplates plugin runs EmbedShellText on every `.sh` source
        // of a target it is applied to, so the text is compiled in (no run-time resource bundle):
        // the restore script's template, Sources/BackupEngine/restore-script/restore.sh.
        .executableTarget(name: "EmbedShellText", swiftSettings: strict),
        .plugin(name: "EmbedShellTemplates", capability: .buildTool(), dependencies: ["EmbedShellText"]),

        .target(
            name: "BackupEngine",
            dependencies: [
                "DrillCore", "Vault", "Archive", "Destination", "CSQLite", "CChunkVFS", "COpenSSL", "CDeflate",
                "CArchive",
            ],
            swiftSettings: strict, plugins: ["EmbedShellTemplates"]),
        .target(
            name: "Reports",
            dependencies: ["DrillCore"],
            swiftSettings: strict),
        .target(
            name: "Verifier",
            dependencies: [
                "DrillCore", "Vault", "Archive", "Destination", "Sandbox", "CSQLite", "COpenSSL", "CArchive",
            ],
            swiftSettings: strict),
        .target(
            name: "Retention",
            dependencies: ["DrillCore"],
            swiftSettings: strict),
        .target(
            name: "Health",
            dependencies: ["DrillCore", "Vault", "Destination", "Retention"],
            swiftSettings: strict),
        // Selftest: a sample workspace backed up, damaged one way per damage kind and drilled
        // (restore-drill selftest), and the sample workspace the demo uses.
        .target(
            name: "Selftest",
            dependencies: [
                "DrillCore", "BackupEngine", "Verifier", "Sandbox", "Reports", "CSQLite",
                // Vault: the forged-set damage needs a set made with a vault password, and scrubber forms.
                "Vault",
                // Archive and CArchive: selftest crafts damaged archives (members cut, added, renamed).
                "Archive", "CArchive",
            ],
            swiftSettings: strict),
        // Schedule: LaunchAgents and systemd units for the configured schedule (schedule install/status).
        .target(
            name: "Schedule",
            dependencies: ["DrillCore", "Destination", "Verifier", "Health"],
            swiftSettings: strict),
        // Jobs composes the stages into what one command does (backup + history + hooks, drill +
        // reports + history, demo, prune, health), so the executable only parses and renders.
        .target(
            name: "Jobs",
            dependencies: [
                "DrillCore", "Vault", "Destination", "BackupEngine", "Verifier", "Sandbox", "Reports", "Retention",
                "Health", "Selftest",
                // Archive and CArchive: evidence bundles written and read as .tar.gz (EvidenceTar).
                "Archive", "CArchive",
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "restore-drill",
            dependencies: [
                "DrillCore", "Vault", "Destination", "Verifier", "Health", "Jobs", "Schedule", "Selftest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // What every test module shares (temporary folders, running a tool, the rule for tools a
        // test needs); a regular target under Tests/ that only test targets depend on.
        .target(name: "TestSupport", dependencies: ["DrillCore"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "DrillCoreTests", dependencies: ["DrillCore", "Vault", "TestSupport"], exclude: ["Snapshots"],
            swiftSettings: strict),
        .testTarget(
            name: "DestinationTests", dependencies: ["Destination", "DrillCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "VaultTests", dependencies: ["Vault", "DrillCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "CArchive", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SandboxTests", dependencies: ["Sandbox", "DrillCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "BackupEngineTests",
            dependencies: ["BackupEngine", "DrillCore", "Destination", "Vault", "CSQLite", "TestSupport"],
            exclude: ["Snapshots"], swiftSettings: strict),
        .testTarget(
            name: "ReportsTests", dependencies: ["Reports", "DrillCore", "TestSupport"], exclude: ["Snapshots"],
            swiftSettings: strict),
        .testTarget(
            name: "VerifierTests",
            dependencies: ["Verifier", "Destination", "DrillCore", "Reports", "CSQLite", "Sandbox", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "RetentionTests", dependencies: ["Retention", "DrillCore"], swiftSettings: strict),
        .testTarget(
            name: "HealthTests", dependencies: ["Health", "DrillCore", "Destination", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "JobsTests",
            dependencies: [
                "Jobs", "DrillCore", "Destination", "Vault", "Health", "Retention", "Sandbox", "Schedule", "Selftest",
                "Verifier", "CSQLite", "TestSupport",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ScheduleTests", dependencies: ["Schedule", "DrillCore", "Health", "Verifier", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["DrillCore", "Vault", "BackupEngine", "Selftest", "CSQLite", "TestSupport"],
            swiftSettings: strict),
        // Package.swift's dependencies against every target's imports (runs `swift package dump-package`).
        .testTarget(name: "PackageGraphTests", dependencies: ["TestSupport"], swiftSettings: strict),
    ]
)
