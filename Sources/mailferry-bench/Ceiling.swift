import COpenSSL
import Foundation
import Glibc
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// The raw ceiling: a plain POP3S client that logs in, LISTs and RETRs every message pipelined `depth` deep, and
/// throws the bytes away. No parsing beyond counting the ".CRLF" terminators (RFC 1939 §3), no spool, no delivery:
/// what the server and TLS allow at most. Written against OpenSSL directly so that it shares no code with mailferry.
final class RawPOP3 {
    private let fd: Int32
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    private var pending: ArraySlice<UInt8> = []

    init(port: Int, caFile: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw BenchError("ceiling: connect to 127.0.0.1:\(port) failed: errno \(errno)") }
        context = SSL_CTX_new(TLS_client_method())!
        _ = mf_SSL_CTX_set_min_proto_version(context, mf_TLS1_2_VERSION())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        SSL_CTX_load_verify_locations(context, caFile, nil)
        ssl = SSL_new(context)!
        SSL_set_fd(ssl, fd)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1")
        guard SSL_connect(ssl) == 1 else { throw BenchError("ceiling: TLS handshake failed") }
    }

    deinit {
        SSL_shutdown(ssl)
        SSL_free(ssl)
        SSL_CTX_free(context)
        close(fd)
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard SSL_write(ssl, bytes, Int32(bytes.count)) == Int32(bytes.count) else {
            throw BenchError("ceiling: write failed")
        }
    }

    private func fill() throws {
        let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        guard n > 0 else { throw BenchError("ceiling: connection closed") }
        pending += buffer[0..<Int(n)]
    }

    func line() throws -> String {
        while true {
            if let end = pending.firstIndex(of: 10) {
                let text = String(decoding: pending[pending.startIndex..<end], as: UTF8.self)
                pending = pending[(end + 1)...]
                return text.hasSuffix("\r") ? String(text.dropLast()) : text
            }
            try fill()
        }
    }

    func ok(_ command: String) throws -> String {
        try send(command + "\r\n")
        let reply = try line()
        guard reply.hasPrefix("+OK") else { throw BenchError("ceiling: \(command.prefix(4)) answered \(reply)") }
        return reply
    }

    /// Reads multi-line responses until `count` terminators ("CRLF.CRLF") went by, calling `ended(n)` whenever n
    /// more ended (to keep the pipeline full). Returns the bytes read.
    func drain(responses count: Int, ended: (Int) throws -> Void) throws -> Int {
        var seen = 0
        var total = 0
        var window = Array(pending)
        pending = []
        while true {
            var from = 0
            var newly = 0
            window.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                let bytes = base.assumingMemoryBound(to: UInt8.self)
                var at = from
                while seen + newly < count, at + 5 <= raw.count,
                    let hit = memchr(base + at, 13, raw.count - at - 4)
                {
                    at = base.distance(to: UnsafeRawPointer(hit))
                    if bytes[at + 1] == 10 && bytes[at + 2] == 46 && bytes[at + 3] == 13 && bytes[at + 4] == 10 {
                        at += 5
                        from = at
                        newly += 1
                    } else {
                        at += 1
                    }
                }
            }
            seen += newly
            if newly > 0 { try ended(newly) }
            if seen == count {
                pending = window[from...]
                return total
            }
            // Keep the last 4 bytes: a terminator may be split across reads.
            window = Array(window[max(from, window.count - 4)...])
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            guard n > 0 else { throw BenchError("ceiling: connection closed") }
            total += Int(n)
            window += buffer[0..<Int(n)]
        }
    }
}

enum Ceiling {
    /// One mailbox: USER/PASS, LIST, every RETR with `depth` in flight, QUIT. Returns (messages, bytes read).
    static func mailbox(port: Int, caFile: String, user: String, password: String, depth: Int) throws -> (Int, Int) {
        let client = try RawPOP3(port: port, caFile: caFile)
        let greeting = try client.line()
        guard greeting.hasPrefix("+OK") else { throw BenchError("ceiling: greeting \(greeting)") }
        _ = try client.ok("USER \(user)")
        _ = try client.ok("PASS \(password)")
        let stat = try client.ok("STAT").split(separator: " ")
        guard stat.count >= 2, let count = Int(stat[1]) else { throw BenchError("ceiling: STAT \(stat)") }
        var next = 1
        var batch = ""
        while next <= min(count, depth) {
            batch += "RETR \(next)\r\n"
            next += 1
        }
        if !batch.isEmpty { try client.send(batch) }
        let bytes = try client.drain(responses: count) { ended in
            var more = ""
            for _ in 0..<ended where next <= count {
                more += "RETR \(next)\r\n"
                next += 1
            }
            if !more.isEmpty { try client.send(more) }
        }
        _ = try? client.ok("QUIT")
        return (count, bytes)
    }
}
