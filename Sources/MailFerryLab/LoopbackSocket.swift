import Foundation
import Glibc

/// Just enough TCP on 127.0.0.1 to pick free ports and to see that a server greets.
///
/// The lab must not share code paths with the client it serves as a test bed, so this is a few plain BSD socket
/// calls rather than anything from `MailFerry`.
enum LoopbackSocket {
    /// Ports the kernel hands out for `bind(127.0.0.1:0)`, distinct because every socket stays open until the end.
    static func freePorts(count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { for descriptor in descriptors { _ = close(descriptor) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = try openStreamSocket()
            descriptors.append(fd)
            var address = loopbackAddress(port: 0)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw LabError.posix("bind(127.0.0.1:0)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw LabError.posix("getsockname") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    /// Connects to 127.0.0.1:`port` and returns the descriptor, or nil if nothing accepted before `deadline`.
    static func connect(port: Int, deadline: Date) -> Int32? {
        guard let fd = try? openStreamSocket() else { return nil }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var address = loopbackAddress(port: port)
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if started == 0 {
            return fd
        }
        guard errno == EINPROGRESS, wait(fd, for: Int16(POLLOUT), until: deadline) else {
            close(fd)
            return nil
        }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// The first line the server at `port` sends (without CRLF), or nil if it did not send one before `deadline`.
    static func greeting(port: Int, deadline: Date) -> String? {
        guard let fd = connect(port: port, deadline: deadline) else { return nil }
        defer { close(fd) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while !received.contains(UInt8(ascii: "\n")) && received.count < 4096 {
            guard wait(fd, for: Int16(POLLIN), until: deadline) else { return nil }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) {
                continue
            }
            guard count > 0 else { return nil }
            received.append(contentsOf: chunk[0..<count])
        }
        let line = received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        return String(decoding: line, as: UTF8.self)
    }

    private static func openStreamSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError.posix("socket(AF_INET, SOCK_STREAM)") }
        return fd
    }

    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }

    /// `poll(2)` for one event, retried on EINTR, bounded by `deadline`.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: Date) -> Bool {
        while true {
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, remaining)
            if ready < 0 && errno == EINTR {
                continue
            }
            return ready > 0 && entry.revents & events != 0
        }
    }
}
