import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A listening `AF_UNIX` stream socket on the host, mode 0777, that tells whether anything
/// connected: the kind of daemon socket (`/run/dbus/system_bus_socket`) a replay must not reach.
public struct UnixListener {
    /// The listening descriptor.
    public let fd: Int32
    /// The socket's path.
    public let path: String

    /// Binds and listens at `path` (which must not exist), then makes it 0777.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when it cannot.
    public init(path: String) throws {
        #if os(Linux)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard fd >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw RestoreDrillError.runtime("cannot make a unix socket at \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            throw RestoreDrillError.runtime("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        chmod(path, 0o777)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        self.path = path
    }

    /// How many connections were waiting (each accepted and closed).
    public func drain() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return count }
            #if canImport(Glibc)
                _ = Glibc.close(client)
            #else
                _ = Darwin.close(client)
            #endif
            count += 1
        }
    }

    /// Closes the socket and removes its path.
    public func stop() {
        #if canImport(Glibc)
            _ = Glibc.close(fd)
        #else
            _ = Darwin.close(fd)
        #endif
        unlink(path)
    }
}
