import Foundation

/// Headless Chromium (Debian `chromium-headless-shell`, in ci/setup) as the tests' browser: the
/// DOM it builds from a page (`--dump-dom`) and a screenshot of it (`--screenshot`), and a PNG
/// reader (through `python3`'s zlib) to check the screenshot's size and that it is not blank.
///
/// Tests guard themselves with `.needsTool(Chromium.name, package: Chromium.package)` and
/// `.needsTool("python3", package: "python3")`.
public enum Chromium {
    /// The executable a test asks for: `chromium-headless-shell` (or `chromium` when only the full
    /// browser is installed).
    public static var name: String {
        RequiredTool.find("chromium-headless-shell") != nil || RequiredTool.find("chromium") == nil
            ? "chromium-headless-shell" : "chromium"
    }

    /// The Debian package that installs it.
    public static let package = "chromium-headless-shell"

    /// The common arguments: headless, no GPU, no first-run, a throw-away profile in `profile`, and
    /// `--no-sandbox` when running as root (Chromium refuses root otherwise).
    static func arguments(profile: String) -> [String] {
        var args = ["--headless", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)", "--hide-scrollbars"]
        if getuid() == 0 { args.append("--no-sandbox") }
        return args
    }

    /// Runs Chromium under `timeout 120` with a fresh profile folder, removed afterwards.
    static func run(_ extra: [String]) throws -> ToolRun {
        let browser = try requireTool(name, package: package)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("rd-chromium-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let timeout = try requireTool("timeout", package: "coreutils")
        return try runTool(timeout, ["120", browser] + arguments(profile: profile) + extra)
    }

    /// The DOM Chromium built from the HTML file at `path`, serialised (`--dump-dom`).
    /// - Throws: ``MissingTool``; ``ChromiumFailure`` when Chromium exits non-zero or prints nothing.
    public static func dumpDOM(_ path: String) throws -> String {
        let run = try run(["--dump-dom", URL(fileURLWithPath: path).absoluteString])
        guard run.status == 0, !run.output.isEmpty else {
            throw ChromiumFailure(description: "chromium --dump-dom exited \(run.status): \(run.error.suffix(2000))")
        }
        return run.output
    }

    /// Screenshots the HTML file at `path` into the PNG `png`, with a window of `width` × `height`
    /// CSS pixels (device scale 1).
    /// - Throws: ``MissingTool``; ``ChromiumFailure`` when Chromium fails or writes no file.
    public static func screenshot(_ path: String, to png: String, width: Int, height: Int) throws {
        try? FileManager.default.removeItem(atPath: png)
        let run = try run([
            "--screenshot=\(png)", "--window-size=\(width),\(height)", "--force-device-scale-factor=1",
            URL(fileURLWithPath: path).absoluteString,
        ])
        guard run.status == 0, FileManager.default.fileExists(atPath: png) else {
            throw ChromiumFailure(description: "chromium --screenshot exited \(run.status): \(run.error.suffix(2000))")
        }
    }
}

extension Chromium {
    /// `reports/html-screenshots/` under the package root (git-ignored like all of `reports/`),
    /// where the tests leave the screenshots of a run for a person to look at (README).
    public static var screenshotFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("reports/html-screenshots").path
    }

    /// What Chromium made of one page.
    public struct Rendering: Sendable {
        /// The serialised DOM (`--dump-dom`).
        public var dom: String
        /// The screenshot, kept at ``png``.
        public var image: PNGImage
        public var png: String
    }

    /// Writes `html` to a temporary file, dumps its DOM and screenshots it at 1200 × 1600 into
    /// ``screenshotFolder``/`name`.png.
    /// - Throws: as ``dumpDOM(_:)``, ``screenshot(_:to:width:height:)`` and ``PNGImage/read(_:)``.
    public static func render(html: String, name: String) throws -> Rendering {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rd-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = folder.appendingPathComponent("\(name).html").path
        try Data(html.utf8).write(to: URL(fileURLWithPath: page))
        try FileManager.default.createDirectory(atPath: screenshotFolder, withIntermediateDirectories: true)
        let png = (screenshotFolder as NSString).appendingPathComponent("\(name).png")
        let dom = try dumpDOM(page)
        try screenshot(page, to: png, width: 1200, height: 1600)
        return Rendering(dom: dom, image: try PNGImage.read(png), png: png)
    }

    /// `text` as Chromium serialises a text node: `&`, `<`, `>` and U+00A0 as references.
    public static func serialised(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\u{A0}", with: "&nbsp;")
    }

    /// How often `needle` occurs in `haystack` (non-overlapping).
    public static func count(_ needle: String, in haystack: String) -> Int {
        haystack.components(separatedBy: needle).count - 1
    }
}

/// Chromium failed; the text holds its exit status and the end of its standard error.
public struct ChromiumFailure: Error, CustomStringConvertible {
    public var description: String
}

/// What a PNG file holds, read by ``PNGImage/read(_:)``.
public struct PNGImage: Sendable, Equatable {
    /// Whether the file starts with the 8-byte PNG signature.
    public var signature: Bool
    /// IHDR width and height, pixels.
    public var width: Int
    public var height: Int
    /// Distinct pixel values after un-filtering the IDAT data (8-bit RGB or RGBA only; -1 for
    /// other formats).
    public var distinctPixels: Int
    /// The colour of the pixel at (40, 40) as six lowercase hex digits (`cf222e`): inside the
    /// verdict banner of the HTML reports.
    public var probe: String

    /// Reads `path` with `python3` (its zlib inflates IDAT; the filters are undone row by row).
    /// - Throws: ``MissingTool`` for python3; ``ChromiumFailure`` when python3 cannot read it.
    public static func read(_ path: String) throws -> PNGImage {
        let python = try requireTool("python3", package: "python3")
        let run = try runTool(python, ["-c", script, path])
        let words = run.output.split(whereSeparator: \.isWhitespace).map(String.init)
        let fields = words.prefix(4).compactMap { Int($0) }
        guard run.status == 0, fields.count == 4, words.count == 5 else {
            throw ChromiumFailure(description: "python3 could not read \(path): \(run.output) \(run.error)")
        }
        return PNGImage(
            signature: fields[0] == 1, width: fields[1], height: fields[2], distinctPixels: fields[3],
            probe: words[4])
    }

    /// Prints `signature width height distinct probe`.
    static let script = """
        import sys, zlib, struct
        data = open(sys.argv[1], 'rb').read()
        sig = 1 if data[:8] == b'\\x89PNG\\r\\n\\x1a\\n' else 0
        pos, idat, w, h, depth, ctype, probe = 8, b'', 0, 0, 0, 0, '000000'
        while pos + 8 <= len(data):
            n, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + n]
            if kind == b'IHDR':
                w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            elif kind == b'IDAT':
                idat += body
            pos += 12 + n
        bpp = {2: 3, 6: 4}.get(ctype, 0)
        if depth != 8 or bpp == 0:
            print(sig, w, h, -1, '000000'); sys.exit(0)
        raw = zlib.decompress(idat)
        stride = w * bpp
        prev = bytearray(stride)
        seen = set()
        for y in range(h):
            f = raw[y * (stride + 1)]
            line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                if f == 1: line[i] = (line[i] + a) & 255
                elif f == 2: line[i] = (line[i] + b) & 255
                elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    line[i] = (line[i] + pr) & 255
            seen.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp))
            if y == 40:
                probe = bytes(line[40 * bpp:40 * bpp + 3]).hex()
            prev = line
        print(sig, w, h, len(seen), probe)
        """
}
