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

        // A SQLite VFS (C, the documented VFS interface) that writes a database copy straight
        // into the set's chunk files.
        .target(name: "CChunkVFS", dependencies: ["CSQLite"]),

        .target(
            name: "DrillCore",
            dependencies: ["COpenSSL", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // The one seam to where sets live (list, read, write atomically, remove, lock, history)
        // and the one set catalogue with its clock rule; a local folder is the first destination.
        .target(
            name: "Destination",
            dependencies: ["DrillCore"],
            swiftSettings: strict),
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
                "DrillCore", "Destination", "Sandbox", "CSQLite", "CChunkVFS", "COpenSSL", "CDeflate", "CArchive",
            ],
            swiftSettings: strict, plugins: ["EmbedShellTemplates"]),
        .target(
            name: "Reports",
            dependencies: ["DrillCore"],
            swiftSettings: strict),
        .target(
            name: "Verifier",
            dependencies: ["DrillCore", "Destination", "Sandbox", "Reports", "CSQLite", "COpenSSL", "CArchive"],
            swiftSettings: strict),
        .target(
            name: "Retention",
            dependencies: ["DrillCore"],
            swiftSettings: strict),
        .target(
            name: "Health",
            dependencies: ["DrillCore", "Destination", "Retention"],
            swiftSettings: strict),
        // Jobs composes the stages into what one command does (backup + history + hooks, drill +
        // reports + history, demo, selftest), so the executable only parses and renders.
        .target(
            name: "Jobs",
            dependencies: [
                "DrillCore", "Destination", "BackupEngine", "Verifier", "Sandbox", "Reports", "Retention", "Health",
                "CSQLite",
                // CArchive: selftest crafts damaged archives (members cut, added, renamed).
                "CArchive",
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "restore-drill",
            dependencies: [
                "DrillCore", "BackupEngine", "Verifier", "Sandbox", "Retention", "Health", "Reports", "Jobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        .testTarget(
            name: "DrillCoreTests", dependencies: ["DrillCore"], exclude: ["Snapshots"], swiftSettings: strict),
        .testTarget(name: "DestinationTests", dependencies: ["Destination"], swiftSettings: strict),
        .testTarget(name: "SandboxTests", dependencies: ["Sandbox"], swiftSettings: strict),
        .testTarget(
            name: "BackupEngineTests", dependencies: ["BackupEngine", "Destination", "CSQLite"], exclude: ["Snapshots"],
            swiftSettings: strict),
        .testTarget(
            name: "ReportsTests", dependencies: ["Reports"], exclude: ["Snapshots"], swiftSettings: strict),
        .testTarget(
            name: "VerifierTests", dependencies: ["Verifier", "Destination", "BackupEngine", "CSQLite"],
            swiftSettings: strict),
        .testTarget(name: "RetentionTests", dependencies: ["Retention"], swiftSettings: strict),
        .testTarget(name: "HealthTests", dependencies: ["Health"], swiftSettings: strict),
        .testTarget(
            name: "JobsTests", dependencies: ["Jobs", "Destination", "Sandbox", "CSQLite"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests", dependencies: ["DrillCore", "BackupEngine", "Jobs", "CSQLite"], swiftSettings: strict
        ),
    ]
)
