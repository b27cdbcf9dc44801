import Foundation
import Testing

@testable import DrillCore

@Suite struct BackupIDTests {
    @Test func formatsInUTCAndParsesBack() throws {
        // 2025-10-20 17:50:19 UTC
        let date = Date(timeIntervalSince1970: 1_760_982_619.75)
        let id = BackupID(date: date)
        #expect(id.description == "full_20251020_175019")
        #expect(BackupID("full_20251020_175019") == id)
        let second = BackupID(date: date, sequence: 2)
        #expect(second.description == "full_20251020_175019_2")
        #expect(BackupID("full_20251020_175019_2") == second)
        #expect(id < second)
    }

    @Test(arguments: [
        "full_20251020_17501", "full_2025102_175019", "full_20251320_175019", "full_20250230_120000",
        "full_20251020_175019_1", "full_20251020_175019_02", "drill_20251020_175019", "full_20251020_246000",
        "full_20251020_175019_", "full_２０２５1020_175019",
    ])
    func rejectsMalformedIDs(_ text: String) {
        #expect(BackupID(text) == nil)
    }

    @Test func drillIDsUseTheirOwnPrefix() {
        let id = DrillID(date: Date(timeIntervalSince1970: 0))
        #expect(id.description == "drill_19700101_000000")
        #expect(DrillID("drill_19700101_000000") == id)
        #expect(DrillID("full_19700101_000000") == nil)
    }

    @Test func idsSortChronologically() {
        let ids = ["full_20251020_175019_2", "full_20240101_000000", "full_20251020_175019", "full_20251021_000000"]
            .compactMap(BackupID.init)
        #expect(
            ids.sorted().map(\.description) == [
                "full_20240101_000000", "full_20251020_175019", "full_20251020_175019_2", "full_20251021_000000",
            ])
    }
}

@Suite struct UnitsTests {
    @Test func sizes() {
        #expect(Units.bytes("10MiB") == Int64(10_485_760))
        #expect(Units.bytes("50 MiB") == Int64(52_428_800))
        #expect(Units.bytes("4GiB") == Int64(4_294_967_296))
        #expect(Units.bytes("512") == 512)
        #expect(Units.bytes("3KiB") == 3072)
        #expect(Units.bytes("ten") == nil)
        #expect(Units.bytes("10XB") == nil)
        #expect(Units.bytes("99999999999TiB") == nil)
    }

    @Test func durations() {
        #expect(Units.seconds("24h") == 86400)
        #expect(Units.seconds("30m") == 1800)
        #expect(Units.seconds("8d") == 691_200.0)
        #expect(Units.seconds("1.5s") == 1.5)
        #expect(Units.seconds("90") == 90)
        #expect(Units.seconds("soon") == nil)
        #expect(Units.seconds("5y") == nil)
    }

    @Test func percentages() {
        #expect(Units.fraction("50%") == 0.5)
        #expect(Units.fraction("5") == 0.05)
        #expect(Units.fraction("150%") == nil)
    }
}

@Suite struct DigestTests {
    @Test func knownVectors() throws {
        // FIPS 180-4 examples.
        #expect(SHA256Digest.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Digest.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rd-digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("blob").path
        var bytes = [UInt8](repeating: 0, count: 3 * FileBlocks.blockSize + 17)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let (hex, size) = try SHA256Digest.file(at: file)
        #expect(size == Int64(bytes.count))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", file]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(out.hasPrefix(hex + " "))
    }

    @Test func missingFileNamesThePath() {
        #expect(throws: RestoreDrillError.io(path: "/nonexistent/x", message: "No such file or directory")) {
            try SHA256Digest.file(at: "/nonexistent/x")
        }
    }

    @Test func hexRoundTrip() {
        #expect(Hex.encode([0, 1, 0xab, 0xff]) == "0001abff")
        #expect(Hex.decode("0001ABff") == [0, 1, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}

@Suite struct ExitStatusTests {
    @Test func tableMatchesDesign() {
        #expect(ExitStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
        #expect(ExitStatus.table.split(separator: "\n").count == 6)
        #expect(RestoreDrillError.config(file: "f", line: 3, key: "k", message: "m").exitStatus == .usage)
        #expect(RestoreDrillError.setNotFound("x").exitStatus == .runtime)
        #expect(RestoreDrillError.lockHeld(path: "p", pid: 1).exitStatus == .runtime)
    }

    @Test func readmeCarriesTheSameTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains(ExitStatus.table))
    }
}
