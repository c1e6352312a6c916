import Foundation
import Glibc
import MailCore
import MailSystem

/// A connected TCP socket with read and write timeouts. One Swift type per C handle: this owns the descriptor.
final class Socket: ByteStream {
    let fd: Int32
    let peer: String
    private var closed = false
    private(set) var timeout = 60.0

    /// Wraps an already connected descriptor (tests use one end of a socketpair).
    init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close() }

    /// OpenSSL writes with write(2), which raises SIGPIPE when the peer is gone; a mail tool must get EPIPE instead.
    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Resolves `host` (getaddrinfo) and connects to the first address that answers within `timeout` seconds.
    static func connect(host: String, port: Int, timeout: Double) throws -> Socket {
        _ = ignoreSIGPIPE
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw MailError(.transient, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(
                ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if fd < 0 {
                lastError = errnoText()
                continue
            }
            if let error = connectWithTimeout(
                fd: fd, address: ai.pointee.ai_addr, length: ai.pointee.ai_addrlen,
                timeout: timeout)
            {
                lastError = error
                Glibc.close(fd)
                continue
            }
            let socket = Socket(fd: fd, peer: "\(host):\(port)")
            socket.setTimeout(timeout)
            var one: Int32 = 1
            // Commands are small and answered one by one; Nagle would add a delayed-ACK stall to each.
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return socket
        }
        throw MailError(.transient, "cannot connect to \(host):\(port): \(lastError)")
    }

    private static func connectWithTimeout(
        fd: Int32, address: UnsafeMutablePointer<sockaddr>, length: socklen_t,
        timeout: Double
    ) -> String? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return errnoText() }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = retryingEINTR { poll(&pfd, 1, Int32(timeout * 1000)) }
        if ready == 0 { return "connection timed out after \(formatSeconds(timeout))" }
        if ready < 0 { return errnoText() }
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
        return soError == 0 ? nil : errnoText(soError)
    }

    /// Applies `seconds` to every later read and write (SO_RCVTIMEO / SO_SNDTIMEO).
    func setTimeout(_ seconds: Double) {
        timeout = seconds
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Waits until the socket has data, in short slices so a stop request (SIGINT/SIGTERM) is noticed quickly;
    /// throws on the timeout, or once a stop request's grace (`StopSignal.grace`) is over.
    func waitReadable() throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if StopSignal.graceOver {
                // What the server already sent is still read (a pipelined answer, the reply to QUIT): only waiting
                // for more ends.
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 0) > 0 { return }
                throw MailError(.transient, "stopped by a signal while waiting for \(peer)")
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { throw MailError(.transient, "timed out waiting for \(peer)") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(remaining, 0.2) * 1000) + 1)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw MailError(.transient, "poll on \(peer) failed: \(errnoText())") }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try waitReadable()
        let n = retryingEINTR { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw MailError(.transient, "timed out waiting for \(peer)")
            }
            throw MailError(.transient, "read from \(peer) failed: \(errnoText())")
        }
        return n
    }

    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let n = retryingEINTR { Glibc.recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw MailError(.transient, "read from \(peer) failed: \(errnoText())")
        }
        return n
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = retryingEINTR {
                Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw MailError(.transient, "timed out writing to \(peer)")
                }
                throw MailError(.transient, "write to \(peer) failed: \(errnoText())")
            }
            offset += n
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
