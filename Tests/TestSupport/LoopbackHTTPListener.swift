import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An HTTP/1.1 listener on 127.0.0.1 only (an ephemeral port) that records every request and answers
/// `200 OK`: the other end of a dead-man's-switch ping in tests, never reachable from outside.
public final class LoopbackHTTPListener: @unchecked Sendable {
    /// One request as it arrived.
    public struct Request: Sendable, Equatable {
        /// `POST`, `GET`, …
        public var method: String
        /// The request target as sent (`/ping/abc/start`).
        public var path: String
        /// The body, decoded as UTF-8.
        public var body: String

        /// - Parameters: as the properties.
        public init(method: String, path: String, body: String) {
            self.method = method
            self.path = path
            self.body = body
        }
    }

    /// The port it listens on.
    public let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var received: [Request] = []
    private var stopped = false

    /// Binds 127.0.0.1 on a port the kernel picks and serves on a thread of its own.
    /// - Throws: `POSIXError` when the socket cannot be made.
    public init() throws {
        (fd, port) = try Self.bound()
        guard listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// A port on 127.0.0.1 that nothing listens on (bound, then closed): a dead listener.
    public static func closedPort() throws -> UInt16 {
        let (fd, port) = try bound()
        _ = close(fd)
        return port
    }

    /// `http://127.0.0.1:<port>`.
    public var base: String { "http://127.0.0.1:\(port)" }

    /// The requests so far, in arrival order.
    public var requests: [Request] { lock.withLock { received } }

    /// Stops accepting (the thread ends at its next accept).
    public func stop() {
        lock.withLock { stopped = true }
        _ = shutdown(fd, Int32(SHUT_RDWR))
        _ = close(fd)
    }

    static func bound() throws -> (Int32, UInt16) {
        #if os(Linux)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard ok == 0 else {
            _ = close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = size
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            if let request = Self.read(client) { lock.withLock { received.append(request) } }
            let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
            _ = answer.withCString { send(client, $0, strlen($0), 0) }
            _ = close(client)
        }
    }

    /// Reads one request: the head up to the blank line, then `Content-Length` bytes of body.
    static func read(_ client: Int32) -> Request? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let separator = Data("\r\n\r\n".utf8)
        var headEnd: Range<Data.Index>?
        var wanted = 0
        while true {
            if headEnd == nil, let found = data.range(of: separator) {
                headEnd = found
                let head = String(decoding: data[..<found.lowerBound], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    wanted = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let headEnd, data.count - headEnd.upperBound >= wanted { break }
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        guard let headEnd else { return nil }
        let head = String(decoding: data[..<headEnd.lowerBound], as: UTF8.self)
        let first = head.split(separator: "\r\n").first.map { $0.split(separator: " ") } ?? []
        guard first.count >= 2 else { return nil }
        return Request(
            method: String(first[0]), path: String(first[1]),
            body: String(decoding: data[headEnd.upperBound...], as: UTF8.self))
    }
}
