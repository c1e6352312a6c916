import Foundation
import Glibc
import MailCore
import MailSystem

extension Socket {
    /// Connects to a Unix stream socket (an LMTP server's, RFC 2033 §5 recommends them); the same timeouts apply to
    /// every later read and write. Connecting to a local socket does not block beyond the kernel's accept queue, so
    /// no poll is needed.
    static func connectUnix(path: String, timeout: Double) throws -> Socket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw MailError(.local, "the socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MailError(.local, "socket(AF_UNIX) failed: \(errnoText())") }
        let socket = Socket(fd: fd, peer: path)
        socket.setTimeout(timeout)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            // Missing socket or nobody listening: the server is down, which may pass.
            let kind: FailureKind = (code == EACCES || code == EPERM) ? .local : .transient
            throw MailError(kind, "cannot connect to \(path): \(errnoText(code))")
        }
        return socket
    }
}
