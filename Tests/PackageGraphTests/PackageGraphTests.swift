import Foundation
import TestSupport
import Testing

/// Package.swift's dependencies equal the imports, both ways: every module a target's Swift files
/// import is declared as its dependency, and every declared dependency is imported by one of its
/// files. So the graph the README draws is the graph the compiler sees, and an edge nothing uses
/// cannot stay.
///
/// The declared graph comes from `swift package dump-package` (SwiftPM's own reading of the
/// manifest, as JSON); the imports from the `import` lines of each target's `.swift` files, in
/// `Sources/<target>`, `Tests/<target>` or the target's declared `path`.
@Suite struct PackageGraphTests {
    /// Modules of the toolchain and the platform: importing them needs no declared dependency.
    static let platformModules: Set<String> = [
        "Foundation", "FoundationEssentials", "FoundationNetworking", "FoundationXML", "Dispatch", "Glibc", "Musl",
        "Darwin", "Testing", "XCTest",
        // Apple's System framework (SubprocessRunner imports it where it exists, else SystemPackage).
        "System",
    ]
    /// Modules a package product brings besides its own module: swift-subprocess's `FilePath`
    /// is swift-system's, so `import SystemPackage` is covered by the `Subprocess` product.
    static let productModules: [String: Set<String>] = ["Subprocess": ["Subprocess", "SystemPackage"]]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// One target of `dump-package`: its name, type, folder and declared dependencies.
    struct DeclaredTarget {
        var name: String
        var type: String
        var folder: String
        /// Each declared dependency by name (a target's name, or a product's), with the modules it
        /// makes importable.
        var dependencies: [String: Set<String>]
    }

    /// Runs `swift package dump-package` (with its own scratch folder, so it never waits for the
    /// lock of the `.build` folder the running tests came from) and reads the targets.
    static func declaredTargets() throws -> [DeclaredTarget] {
        let swift = try requireTool("swift")
        let scratch = try TempFolder("rd-dump-package")
        defer { scratch.remove() }
        let run = try runTool(
            swift, ["package", "--package-path", root, "--scratch-path", scratch.path, "dump-package"])
        guard run.status == 0 else { throw DumpFailed(description: "dump-package: \(run.status) \(run.error)") }
        let json = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
        let targets = try #require(json?["targets"] as? [[String: Any]])
        return try targets.map { target in
            let name = try #require(target["name"] as? String)
            let type = try #require(target["type"] as? String)
            let folder = (target["path"] as? String) ?? ((type == "test" ? "Tests/" : "Sources/") + name)
            var dependencies: [String: Set<String>] = [:]
            for dependency in (target["dependencies"] as? [[String: Any]]) ?? [] {
                for kind in ["byName", "target"] {
                    if let value = (dependency[kind] as? [Any])?.first as? String { dependencies[value] = [value] }
                }
                if let product = (dependency["product"] as? [Any])?.first as? String {
                    dependencies[product] = productModules[product] ?? [product]
                }
            }
            return DeclaredTarget(name: name, type: type, folder: folder, dependencies: dependencies)
        }
    }

    struct DumpFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// The modules imported by the `.swift` files under `folder` (recursively): lines
    /// `import M`, `@testable import M`, `import struct M.T`, also indented inside `#if`; lines
    /// inside `"""` string literals (embedded Python or shell) and comments do not count.
    static func imports(under folder: String) -> Set<String> {
        var out: Set<String> = []
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return out }
        let pattern =
            /^\s*(?:@testable\s+)?import\s+(?:(?:struct|class|enum|protocol|typealias|func|var|let)\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_.]+)?\s*$/
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            guard let text = try? String(contentsOfFile: folder + "/" + relative, encoding: .utf8) else { continue }
            var inString = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.trimmingPrefix(while: \.isWhitespace).hasPrefix("//") { continue }
                let quotes = line.ranges(of: "\"\"\"").count
                if quotes % 2 == 1 {
                    inString.toggle()
                    continue
                }
                if inString { continue }
                if let match = line.wholeMatch(of: pattern) { out.insert(String(match.1)) }
            }
        }
        return out
    }

    @Test func dependenciesEqualImportsBothWays() throws {
        let targets = try Self.declaredTargets()
        #expect(targets.count > 10, "dump-package listed \(targets.count) targets")
        var checked: [String] = []
        for target in targets where target.type != "system" {
            let folder = Self.root + "/" + target.folder
            let swiftFiles = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".swift") }
            // C targets (CChunkVFS) include headers; their edges are the C compiler's to check.
            guard !swiftFiles.isEmpty else { continue }
            checked.append(target.name)
            let imported = Self.imports(under: folder).subtracting(Self.platformModules).subtracting([target.name])
            let importable = target.dependencies.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            let importedNotDeclared = imported.subtracting(importable)
            let declaredNotImported = target.dependencies.filter { $0.value.isDisjoint(with: imported) }.keys
            #expect(
                importedNotDeclared.isEmpty,
                "\(target.name) imports \(importedNotDeclared.sorted()) but Package.swift does not declare them")
            #expect(
                declaredNotImported.isEmpty,
                "\(target.name) declares \(declaredNotImported.sorted()) in Package.swift but no file imports them")
        }
        #expect(checked.contains("DrillCore") && checked.contains("restore-drill") && checked.contains("JobsTests"))
    }

    @Test func importScannerSkipsStringsAndComments() throws {
        let folder = try TempFolder("rd-imports")
        defer { folder.remove() }
        try folder.write(
            """
            import Foundation
            // import Commented
            // three quotes in a comment: \"\"\"
            #if canImport(Glibc)
                import Glibc
            #endif
            @testable import Tested
            import struct Typed.Value
            let python = \"\"\"
                import sys
                \"\"\"
            import Last
            """, "A.swift")
        #expect(PackageGraphTests.imports(under: folder.path) == ["Foundation", "Glibc", "Tested", "Typed", "Last"])
    }
}

/// The rule for tools a test needs (TestSupport's ``requireTool(_:package:)``).
@Suite struct RequiredToolTests {
    @Test func anInstalledToolIsFoundByNameAndByPath() throws {
        let sh = try requireTool("sh")
        #expect(sh.hasSuffix("/sh") && FileManager.default.isExecutableFile(atPath: sh))
        #expect(try requireTool(sh) == sh)
    }

    @Test func aMissingToolThrowsNamingItsPackage() {
        #expect(RequiredTool.find("restore-drill-no-such-tool") == nil)
        #expect {
            try requireTool("restore-drill-no-such-tool", package: "none-such")
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("restore-drill-no-such-tool is not installed (Debian package none-such")
                && text.hasSuffix(RequiredTool.isCI ? ": CI is set, so a missing tool fails the test" : "in ci/setup)")
        }
    }
}
