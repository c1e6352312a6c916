import Foundation
import MailCore
import MailSystem

/// A byte stream with one bounded read buffer: reply lines and dot-stuffed bodies are read from the same buffer, so
/// bytes of a pipelined next reply are never lost, and bytes that arrive too early (before a TLS upgrade) are seen.
final class Connection {
    private(set) var stream: any ByteStream
    /// The TCP socket under the stream, for TLS and timeouts; nil for an in-memory stream (fuzzing).
    private let socket: Socket?
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    let peer: String
    /// Longest reply line accepted; a server sending more is broken or hostile.
    var maxLineLength = 64 * 1024
    private(set) var tlsInfo: TLSInfo?

    static let bufferSize = 256 * 1024

    convenience init(socket: Socket) {
        self.init(socket: socket, stream: socket, peer: socket.peer, bufferSize: Self.bufferSize)
    }

    /// A connection reading any byte stream, with a buffer of `bufferSize` bytes: the fuzz targets feed the line
    /// reader from memory, with a small buffer so that compaction is exercised too.
    convenience init(stream: any ByteStream, peer: String, bufferSize: Int) {
        self.init(socket: nil, stream: stream, peer: peer, bufferSize: bufferSize)
    }

    private init(socket: Socket?, stream: any ByteStream, peer: String, bufferSize: Int) {
        self.socket = socket
        self.stream = stream
        self.peer = peer
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        stream.close()
        buffer.deallocate()
    }

    static func open(host: String, port: Int, timeout: Double) throws -> Connection {
        Connection(socket: try Socket.connect(host: host, port: port, timeout: timeout))
    }

    /// Bytes received but not yet consumed.
    var bufferedCount: Int { end - start }

    /// Replaces the plain stream with TLS. Refuses when bytes are already buffered: they arrived before the
    /// handshake, unprotected, and could be an injected response (the 2021 STARTTLS study; RFC 2595 §4).
    func upgradeToTLS(host: String, settings: TLSSettings) throws {
        guard bufferedCount == 0 else {
            throw MailError(
                .tls,
                "\(bufferedCount) unexpected bytes arrived before the TLS handshake "
                    + "(possible response injection); connection aborted")
        }
        guard let socket else { throw MailError(.tls, "\(peer) is not a network connection") }
        let tls = try TLSStream(socket: socket, host: host, settings: settings)
        stream = tls
        tlsInfo = tls.info
    }

    func setTimeout(_ seconds: Double) { socket?.setTimeout(seconds) }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try stream.write($0) }
    }

    func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try stream.write(bytes)
    }

    /// Makes room at the end of the buffer: rewinds an empty one, moves the unread tail of a full one to the front.
    private func makeRoom() {
        if start == end {
            start = 0
            end = 0
        } else if end == buffer.count {
            let pending = end - start
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: pending)
            start = 0
            end = pending
        }
    }

    /// Reads more bytes into the buffer; throws on end of stream.
    private func fill() throws {
        makeRoom()
        let n = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if n == 0 { throw MailError(.transient, "\(peer) closed the connection") }
        end += n
    }

    /// Takes into the buffer, without waiting, what the server has already sent, and returns how many bytes are
    /// unread and the first `limit` of them. Nothing is consumed: the line reader still reads them.
    func arrivedUnread(limit: Int = 4096) throws -> (count: Int, head: [UInt8]) {
        // A few reads at most: the question is whether anything came, not how much.
        for _ in 0..<4 {
            makeRoom()
            guard end < buffer.count,
                let n = try stream.readAvailable(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...])),
                n > 0
            else { break }
            end += n
        }
        let head = UnsafeRawBufferPointer(rebasing: buffer[start..<min(end, start + limit)])
        return (end - start, Array(head))
    }

    /// Reads one line and returns it without its CRLF (or bare LF). Throws `.protocol` past `maxLineLength`, and
    /// `.transient` when the line takes longer than twice the socket's timeout: each read has the timeout, but a
    /// server trickling one byte per almost-timeout must not hold a run for hours.
    func readLine() throws -> [UInt8] {
        var scanned = 0
        var deadline: Date?
        while true {
            let available = UnsafeRawBufferPointer(rebasing: buffer[(start + scanned)..<end])
            if let offset = available.firstIndex(of: 10) {
                let lineEnd = start + scanned + offset
                if lineEnd - start > maxLineLength {
                    throw MailError(.protocol, "\(peer) sent a line longer than \(maxLineLength) bytes")
                }
                var contentEnd = lineEnd
                if contentEnd > start && buffer[contentEnd - 1] == 13 { contentEnd -= 1 }
                let line = Array(UnsafeRawBufferPointer(rebasing: buffer[start..<contentEnd]))
                start = lineEnd + 1
                return line
            }
            scanned = end - start
            if scanned > maxLineLength {
                throw MailError(.protocol, "\(peer) sent a line longer than \(maxLineLength) bytes")
            }
            if end == buffer.count && start == 0 {
                throw MailError(.protocol, "\(peer) sent a line longer than \(buffer.count) bytes")
            }
            if let socket {
                let limit = 2 * socket.timeout
                if let deadline, Date() > deadline {
                    throw MailError(
                        .transient,
                        "\(peer) did not finish a line within \(formatSeconds(limit)) "
                            + "(\(bufferedCount) bytes so far)")
                }
                deadline = deadline ?? Date().addingTimeInterval(limit)
            }
            try fill()
        }
    }

    /// Streams a dot-stuffed body to `sink` until its terminator line, in constant memory.
    func readDotBody(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var decoder = DotUnstuffer()
        while true {
            if start == end { try fill() }
            let available = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            let used = try decoder.feed(available, emit: sink)
            start += used
            if decoder.finished { return }
        }
    }

    func close() { stream.close() }
}
