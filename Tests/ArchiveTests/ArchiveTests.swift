import Archive
import CArchive
import Foundation
import TestSupport
import Testing

/// Collects what an ``ArchiveWriter`` opened on a sink writes.
final class CollectingSink: ArchiveByteSink {
    var bytes = Data()
    func write(_ buffer: UnsafeRawPointer?, _ length: Int) -> Int {
        guard let buffer, length > 0 else { return 0 }
        bytes.append(buffer.assumingMemoryBound(to: UInt8.self), count: length)
        return length
    }
}

/// Writes one regular member `name` holding `text` through `writer` (already open).
func writeMember(_ writer: ArchiveWriter, _ name: String, _ text: String) throws {
    let entry = try #require(archive_entry_new())
    defer { archive_entry_free(entry) }
    archive_entry_set_pathname_utf8(entry, name)
    archive_entry_set_filetype(entry, RD_AE_IFREG)
    archive_entry_set_perm(entry, 0o644)
    archive_entry_set_mtime(entry, 1_700_000_000, 0)
    archive_entry_set_size(entry, Int64(text.utf8.count))
    #expect(archive_write_header(writer.handle, entry) == ARCHIVE_OK)
    let data = Data(text.utf8)
    #expect(data.withUnsafeBytes { archive_write_data(writer.handle, $0.baseAddress, $0.count) } == data.count)
}

/// Every member of an open reader: name and content.
func members(_ reader: ArchiveReader) throws -> [String: String] {
    var out: [String: String] = [:]
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let (status, header) = reader.nextHeader()
        if status == ARCHIVE_EOF { break }
        let entry = try #require(header)
        #expect(status == ARCHIVE_OK)
        let name = String(cString: try #require(archive_entry_pathname(entry)))
        var data = Data()
        while true {
            let n = buffer.withUnsafeMutableBytes { reader.readData(into: $0) }
            #expect(n >= 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        out[name] = String(decoding: data, as: UTF8.self)
    }
    return out
}

@Suite struct ArchiveWrapperTests {
    @Test func aGzipTarWrittenToAFileReadsBackWithGzipAndBsdtar() throws {
        let folder = try TempFolder("rd-archive")
        defer { folder.remove() }
        let path = folder.file("a.tar.gz")
        let writer = try #require(ArchiveWriter(format: .paxRestricted, gzip: true))
        #expect(writer.open(path: path) == ARCHIVE_OK)
        try writeMember(writer, "dir/one.txt", "one\n")
        try writeMember(writer, "two.txt", "second file\n")
        #expect(writer.close() == ARCHIVE_OK)
        writer.free()
        writer.free()  // a second free does nothing

        // gzip's own reader accepts the stream, and tar lists both members.
        let tar = try runTool("/bin/tar", ["-tzf", path])
        #expect(tar.status == 0, "\(tar.error)")
        #expect(tar.output == "dir/one.txt\ntwo.txt\n")

        let reader = try #require(ArchiveReader(formats: [.tar], allFilters: true))
        #expect(reader.open(path: path) == ARCHIVE_OK)
        #expect(try members(reader) == ["dir/one.txt": "one\n", "two.txt": "second file\n"])
    }

    @Test func aSinkWriterGivesTheSameBytesAsAFileWriter() throws {
        let folder = try TempFolder("rd-archive")
        defer { folder.remove() }
        let sink = CollectingSink()
        let toSink = try #require(ArchiveWriter(format: .paxRestricted))
        #expect(toSink.open(sink: sink) == ARCHIVE_OK)
        try writeMember(toSink, "a.txt", "alpha\n")
        #expect(toSink.close() == ARCHIVE_OK)
        let toFile = try #require(ArchiveWriter(format: .paxRestricted))
        #expect(toFile.open(path: folder.file("a.tar")) == ARCHIVE_OK)
        try writeMember(toFile, "a.txt", "alpha\n")
        #expect(toFile.close() == ARCHIVE_OK)
        let file = try Data(contentsOf: URL(fileURLWithPath: folder.file("a.tar")))
        // One 512-byte header, 512 bytes of data, two 512-byte end blocks. libarchive pads a
        // stream to its 10 KiB block with zeros but a regular file only to the end blocks.
        #expect(file.count == 2048)
        #expect(sink.bytes.count == 10240)
        #expect(sink.bytes.prefix(2048) == file)
        #expect(sink.bytes.dropFirst(2048).allSatisfy { $0 == 0 })

        var bytes = [UInt8](sink.bytes)
        let reader = try #require(ArchiveReader(formats: [.tar], allFilters: false))
        let (opened, read) = try bytes.withUnsafeMutableBytes { raw throws -> (Int32, [String: String]) in
            let opened = reader.open(memory: raw)
            return (opened, try members(reader))
        }
        #expect(opened == ARCHIVE_OK)
        #expect(read == ["a.txt": "alpha\n"])
    }

    @Test func aMissingFileReportsLibarchivesError() throws {
        let reader = try #require(ArchiveReader(formats: [.all], allFilters: true))
        #expect(reader.open(path: "/nonexistent/restore-drill-archive.tar") != ARCHIVE_OK)
        #expect(reader.errorString?.contains("/nonexistent/restore-drill-archive.tar") == true)
    }

    @Test func aRawGzipWriterWritesOneGzipMember() throws {
        let folder = try TempFolder("rd-archive")
        defer { folder.remove() }
        let path = folder.file("raw.gz")
        let writer = try #require(ArchiveWriter(format: .raw, gzip: true))
        #expect(writer.open(path: path) == ARCHIVE_OK)
        try writeMember(writer, "ignored", "just these bytes\n")
        #expect(writer.close() == ARCHIVE_OK)
        let gunzip = try runTool("/bin/gzip", ["-dc", path])
        #expect(gunzip.status == 0)
        #expect(gunzip.output == "just these bytes\n")
    }
}

@Suite struct ArchiveNameLocaleTests {
    @Test func aNonASCIINameRoundTripsUnderTheUTF8Locale() throws {
        let folder = try TempFolder("rd-archive")
        defer { folder.remove() }
        let path = folder.file("names.tar")
        let name = "Ünïcode/日本語 file.txt"
        try ArchiveNameLocale.withUTF8 {
            let writer = try #require(ArchiveWriter(format: .paxRestricted))
            #expect(writer.open(path: path) == ARCHIVE_OK)
            try writeMember(writer, name, "x\n")
            #expect(writer.close() == ARCHIVE_OK)
            writer.free()
        }
        let tar = try runTool("/bin/tar", ["-tf", path], environment: ["LC_ALL": "C.UTF-8"])
        #expect(tar.status == 0, "\(tar.error)")
        #expect(tar.output == name + "\n")
    }

    @Test func withRestoresTheThreadsLocale() throws {
        let before = uselocale(nil)
        let utf8 = try #require(ArchiveNameLocale.utf8())
        defer { freelocale(utf8) }
        let inside = ArchiveNameLocale.with(utf8) { uselocale(nil) }
        #expect(inside == utf8)
        #expect(uselocale(nil) == before)
    }
}
