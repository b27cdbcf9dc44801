/// The pax archive the restore script feeds to `tar -tf -` before anything is written, to prove
/// the `tar` it finds reads pax headers (issue 19): the code archive's names are pax `path`
/// records (bytes, `hdrcharset=BINARY`), which a tar that ignores pax headers (old busybox)
/// would extract under the wrong names.
///
/// The archive holds one empty regular file: its ustar header names it ``shortName`` and a pax
/// extended header (type `x`) before it names it ``longName`` (133 bytes, past ustar's 100). A
/// tar that lists ``longName`` reads pax; one that does not lists ``shortName`` (and perhaps the
/// pax header as a file) or fails. The bytes are fixed (mtime 0, uid 0, mode 0644), so the script
/// is the same for every set.
enum PaxProbe {
    /// The name only the pax header holds: `rd-pax-probe-` and `0123456789` twelve times.
    static let longName = "rd-pax-probe-" + String(repeating: "0123456789", count: 12)
    /// The name the ustar header holds: `rd-pax-probe`.
    static let shortName = "rd-pax-probe"

    /// The archive: a pax header block, its one 512-byte data block, the file's ustar header
    /// block, and the two zero blocks that end an archive (2,560 bytes).
    static var archive: [UInt8] {
        var record = " path=\(longName)\n"
        // The record's length counts its own digits.
        var length = record.utf8.count + 1
        while String(length).count + record.utf8.count != length { length += 1 }
        record = String(length) + record
        var out = header(name: "PaxHeader/" + shortName, size: record.utf8.count, type: "x")
        out += Array(record.utf8) + [UInt8](repeating: 0, count: 512 - record.utf8.count)
        out += header(name: shortName, size: 0, type: "0")
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }

    /// One ustar header block (512 bytes) for `name` (at most 100 bytes), `size` bytes, `type`.
    static func header(name: String, size: Int, type: Character) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (i, byte) in text.utf8.enumerated() { block[offset + i] = byte }
        }
        func octal(_ value: Int, digits: Int) -> String {
            let s = String(value, radix: 8)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        put(name, at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(octal(size, digits: 11), at: 124)
        put(octal(0, digits: 11), at: 136)
        put(String(type), at: 156)
        put("ustar", at: 257)
        put("00", at: 263)
        // The checksum: the sum of the block's bytes with its own field as 8 spaces.
        put("        ", at: 148)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(sum, digits: 6), at: 148)
        block[154] = 0
        block[155] = 0x20
        return block
    }

    /// The body of the script's `rd_pax_archive`: `printf` lines with octal escapes for the bytes
    /// and `rd_nul N` for each run of 8 or more NUL bytes; each line indented 4 spaces, ending in
    /// a newline.
    static var shellLines: String {
        let bytes = archive
        var lines: [String] = []
        var pending = ""
        func flush() {
            if !pending.isEmpty { lines.append("printf '\(pending)'") }
            pending = ""
        }
        var i = 0
        while i < bytes.count {
            var run = 0
            while i + run < bytes.count, bytes[i + run] == 0 { run += 1 }
            if run >= 8 {
                flush()
                lines.append("rd_nul \(run)")
                i += run
                continue
            }
            let byte = bytes[i]
            // Letters, digits and a few safe marks as they are; every other byte as \ooo.
            if (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || "-_=./ ".utf8.contains(byte)
            {
                pending.append(Character(Unicode.Scalar(byte)))
            } else {
                let s = String(byte, radix: 8)
                pending += "\\" + String(repeating: "0", count: 3 - s.count) + s
            }
            if pending.count >= 96 { flush() }
            i += 1
        }
        flush()
        return lines.map { "    " + $0 + "\n" }.joined()
    }
}
