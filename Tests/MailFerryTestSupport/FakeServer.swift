import COpenSSL
import Foundation
import Glibc
import Testing

/// Everything one client wrote on one connection, split at the TLS boundary, so a test can assert exact bytes (that
/// no USER or PASS left before TLS, that a command went out once).
struct FakeTranscript: Sendable, Equatable {
    /// Bytes read straight off the socket: before any handshake, and after one the client rejected. A handshake the
    /// client began where none was expected (after an injected reply) shows up here as binary.
    var plain: [UInt8] = []
    /// Bytes read through TLS, decrypted.
    var secured: [UInt8] = []

    var plainText: String { String(decoding: plain, as: UTF8.self) }
    var securedText: String { String(decoding: secured, as: UTF8.self) }

    /// Whether `text` occurs in what the client wrote, in clear or encrypted.
    func contains(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard !needle.isEmpty else { return true }
        return [plain, secured].contains { haystack in
            guard haystack.count >= needle.count else { return false }
            return (0...(haystack.count - needle.count)).contains {
                haystack[$0..<($0 + needle.count)].elementsEqual(needle)
            }
        }
    }
}

/// One step of a scripted session; `FakeSession.run(_:)` carries it out.
enum FakeStep: Sendable {
    /// Writes the text as it is: the script spells out every CRLF.
    case send(String)
    case sendRaw([UInt8])
    /// Reads one client line and compares it, without its CRLF, to the text; a mismatch ends the session as a
    /// recorded failure.
    case expect(String)
    /// Writes the text one byte at a time, pausing `delay` seconds before each byte.
    case drip(String, delay: Double)
    /// Writes the text over and over until `upTo` bytes went out or the client stops reading and the write fails or
    /// times out; the count written is `FakeServer.flooded`. Shows a client gives up early instead of buffering it all.
    case flood(String, upTo: Int)
    /// The client sends nothing for this many seconds: it waits for the reply to what it sent (no pipelining). Bytes
    /// that arrive meanwhile, or that came with the last line read, are a recorded failure.
    case expectSilence(Double)
    /// Answers client lines from a table (exact line → reply bytes) until the client closes, whatever the order:
    /// for sessions where the client may or may not send a command, depending on how it handled an earlier reply.
    case respond([String: String])
    /// Server side of a TLS handshake on the same socket (SSL_accept); later steps go through TLS. As the first step
    /// this is implicit TLS (POP3S); after a "+OK" to STLS it is STARTTLS. `upTo` caps the protocol versions the
    /// server speaks (an old server); nil: whatever OpenSSL offers.
    case startTLS(FakeCertificate, upTo: FakeTLSVersion? = nil)
    /// Offers a handshake the client must abort, as it should for a bad certificate or a server that speaks nothing
    /// newer than `upTo`; completing it is a failure.
    case startTLSRejected(FakeCertificate, upTo: FakeTLSVersion? = nil)
    case sleep(Double)
    /// Drops the connection at once: a FIN and, under TLS, no close_notify, as when a server dies mid-reply.
    case close
    /// Anything the enumerated steps cannot say, with the session in hand.
    case run(@Sendable (FakeSession) throws -> Void)
}

/// The newest TLS version a fake server speaks, for servers too old for the client's floor (TLS 1.2).
enum FakeTLSVersion: String, Sendable, CaseIterable {
    case tls10 = "TLSv1"
    case tls11 = "TLSv1.1"
    case tls12 = "TLSv1.2"

    /// OpenSSL's protocol number (TLS1_VERSION ...).
    var openSSL: Int {
        switch self {
        case .tls10: Int(TLS1_VERSION)
        case .tls11: Int(TLS1_1_VERSION)
        case .tls12: Int(TLS1_2_VERSION)
        }
    }
}

/// A broken expectation in a script. It ends the session and is reported by `FakeServer.finish()`.
struct FakeServerError: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A scripted server for one test: listens on 127.0.0.1 on a free port, accepts `connections` clients one after the
/// other on its own thread (not Swift concurrency, so a blocking client in the test cannot starve it), and runs the
/// script or handler for each. Every wait is bounded by `timeout`, so a client that hangs fails the test instead of
/// hanging it.
///
/// After the script ends the session keeps reading until the client closes (bounded), so the transcript holds every
/// byte the client wrote, even bytes sent after the server stopped answering. A test therefore closes its client
/// (`quit()`) and then calls `finish()`, which waits for the thread and turns recorded failures into test issues.
final class FakeServer: @unchecked Sendable {
    let port: Int
    /// Bounds each accept, read and write, and the wait for the client to close.
    let timeout: Double
    private let connections: Int
    private let handler: @Sendable (FakeSession) throws -> Void
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)

    /// Guards everything below, which the server thread writes and the test thread reads.
    private let lock = NSLock()
    private var transcriptStore: [FakeTranscript] = []
    private var failureStore: [String] = []
    private var floodedStore = 0
    private var stopping = false
    private var activeSocket: Int32 = -1
    private var reported = false

    /// The test process must survive writes to a client that already hung up, as the mailferry binary does.
    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    init(
        connections: Int = 1, timeout: Double = 5,
        handler: @escaping @Sendable (FakeSession) throws -> Void
    ) throws {
        _ = FakeServer.ignoreSIGPIPE
        self.connections = connections
        self.timeout = timeout
        self.handler = handler
        (listener, port) = try FakeServer.listen()
        let thread = Thread { [self] in serve() }
        thread.name = "FakeServer:\(port)"
        thread.start()
    }

    /// A server that runs the same steps on each connection.
    convenience init(connections: Int = 1, timeout: Double = 5, steps: [FakeStep]) throws {
        try self.init(connections: connections, timeout: timeout) { session in
            for step in steps { try session.run(step) }
        }
    }

    convenience init(_ steps: FakeStep..., timeout: Double = 5) throws {
        try self.init(timeout: timeout, steps: steps)
    }

    /// The first connection's transcript (empty if nobody connected).
    var transcript: FakeTranscript { transcripts.first ?? FakeTranscript() }
    var transcripts: [FakeTranscript] { lock.withLock { transcriptStore } }
    var failures: [String] { lock.withLock { failureStore } }
    /// Bytes the last `.flood` step managed to write.
    var flooded: Int { lock.withLock { floodedStore } }

    /// Waits (bounded) for the server thread and records every script failure as an issue of the calling test.
    /// With `reporting: false` the failures are only kept in `failures` (tests of the fake server itself).
    func finish(reporting: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        let limit = max(30, timeout * 4)
        if done.wait(timeout: .now() + limit) == .timedOut {
            record("the fake server was still running after \(Int(limit)) s; stopped")
            stop()
            _ = done.wait(timeout: .now() + timeout + 1)
        } else {
            done.signal()  // so a second finish() returns at once
        }
        let toReport: [String] = lock.withLock {
            defer { reported = true }
            return reported ? [] : failureStore
        }
        for failure in toReport where reporting {
            Issue.record(Comment(rawValue: "fake server: \(failure)"), sourceLocation: sourceLocation)
        }
    }

    /// Makes the server thread give up: the accept loop stops and the open connection is shut down. A script still
    /// waiting for a line then fails ("the client closed the connection"); end open-ended scripts with `.respond`.
    func stop() {
        lock.withLock {
            stopping = true
            if activeSocket >= 0 { _ = shutdown(activeSocket, Int32(SHUT_RDWR)) }
        }
    }

    // MARK: - Recording (called from the session)

    fileprivate func record(_ failure: String) {
        lock.withLock { failureStore.append(failure) }
    }

    fileprivate func recordReceived(_ bytes: ArraySlice<UInt8>, secured: Bool, connection: Int) {
        lock.withLock {
            if secured {
                transcriptStore[connection].secured += bytes
            } else {
                transcriptStore[connection].plain += bytes
            }
        }
    }

    fileprivate func recordFlooded(_ count: Int) {
        lock.withLock { floodedStore = count }
    }

    fileprivate var isStopping: Bool { lock.withLock { stopping } }

    // MARK: - Server thread

    private func serve() {
        defer {
            close(listener)
            done.signal()
        }
        for number in 0..<connections {
            guard let fd = acceptOne() else {
                if !isStopping { record("connection \(number + 1) of \(connections): no client within \(timeout) s") }
                return
            }
            lock.withLock { transcriptStore.append(FakeTranscript()) }
            let session = FakeSession(number: number, socket: fd, server: self)
            do {
                try handler(session)
                session.drainUntilClientCloses()
            } catch {
                record("connection \(number + 1): \(error)")
            }
            session.end()
            lock.withLock { activeSocket = -1 }
            close(fd)
        }
    }

    /// Polls in short slices so `stop()` is noticed; nil when the deadline passes or the server is stopping.
    private func acceptOne() -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && !isStopping {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            // A drip must leave as one segment per byte, not be coalesced by Nagle.
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let accepted: Bool = lock.withLock {
                guard !stopping else { return false }
                activeSocket = fd
                return true
            }
            guard accepted else {
                close(fd)
                return nil
            }
            return fd
        }
        return nil
    }

    private static func listen() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FakeServerError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 4) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FakeServerError("cannot listen on 127.0.0.1: \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// One accepted connection, seen from the server: what a script step or handler works with.
///
/// Not thread-safe: only the server thread touches it.
final class FakeSession {
    /// 0 for the first connection.
    let number: Int
    private let socket: Int32
    private let server: FakeServer
    private var tls: ServerTLS?
    /// Received but not yet consumed by `readLine()`.
    private var pending: [UInt8] = []
    private var closed = false

    /// The port the server listens on, for replies that name it (an OAUTHBEARER payload carries host and port).
    var serverPort: Int { server.port }

    /// Longest client line accepted; a client command is a few dozen bytes.
    static let maxLineLength = 64 * 1024

    fileprivate init(number: Int, socket: Int32, server: FakeServer) {
        self.number = number
        self.socket = socket
        self.server = server
    }

    func run(_ step: FakeStep) throws {
        switch step {
        case .send(let text): try send(text)
        case .sendRaw(let bytes): try send(bytes)
        case .expect(let line): try expect(line)
        case .expectSilence(let seconds): try expectSilence(seconds)
        case .drip(let text, let delay): try drip(Array(text.utf8), delay: delay)
        case .flood(let text, let limit): flood(Array(text.utf8), upTo: limit)
        case .respond(let table): try respond(table)
        case .startTLS(let certificate, let version): try startTLS(certificate, upTo: version)
        case .startTLSRejected(let certificate, let version): try startTLSRejected(certificate, upTo: version)
        case .sleep(let seconds): sleep(seconds)
        case .close: close()
        case .run(let body): try body(self)
        }
    }

    // MARK: - Writing

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        try checkOpen()
        var offset = 0
        while offset < bytes.count {
            let n = try bytes[offset...].withUnsafeBytes { try write($0) }
            offset += n
        }
    }

    func drip(_ bytes: [UInt8], delay: Double) throws {
        for byte in bytes {
            sleep(delay)
            try send([byte])
        }
    }

    /// Returns how many bytes went out; a failed write is the expected end (the client stopped reading), not an error.
    @discardableResult
    func flood(_ pattern: [UInt8], upTo limit: Int) -> Int {
        precondition(!pattern.isEmpty, "flood needs something to repeat")
        var chunk: [UInt8] = []
        while chunk.count < 64 * 1024 { chunk += pattern }
        var sent = 0
        while sent < limit && !closed && !server.isStopping {
            let count = min(chunk.count, limit - sent)
            guard let n = try? chunk[..<count].withUnsafeBytes({ try write($0) }) else { break }
            sent += n
        }
        server.recordFlooded(sent)
        return sent
    }

    /// One write through TLS or the socket; returns the count written, which may be short.
    private func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        if let tls {
            return try tls.write(bytes)
        }
        let n = Glibc.send(socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        guard n > 0 else { throw FakeServerError("write to the client failed: \(String(cString: strerror(errno)))") }
        return n
    }

    // MARK: - Reading

    /// Reads one line from the client and returns it without CRLF; throws on timeout, close or an over-long line.
    func readLine() throws -> String {
        guard let line = try nextLine() else {
            throw FakeServerError(
                "the client closed the connection while the script expected a line"
                    + (pending.isEmpty ? "" : "; unterminated: \(quoted(pending))"))
        }
        return line
    }

    /// Like `readLine()`, but nil when the client closes the connection.
    func nextLine() throws -> String? {
        try checkOpen()
        let deadline = Date().addingTimeInterval(server.timeout)
        while true {
            if let newline = pending.firstIndex(of: 10) {
                var line = pending[..<newline]
                if line.last == 13 { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                pending.removeSubrange(...newline)
                return text
            }
            if pending.count > FakeSession.maxLineLength {
                throw FakeServerError("the client sent a line longer than \(FakeSession.maxLineLength) bytes")
            }
            guard Date() < deadline else {
                throw FakeServerError(
                    "no complete line from the client within \(server.timeout) s; got so far: "
                        + quoted(pending))
            }
            guard let received = try receive() else { continue }  // timed out: the deadline decides
            guard !received.isEmpty else { return nil }
            pending += received
        }
    }

    func expect(_ line: String) throws {
        let got = try readLine()
        guard got == line else {
            throw FakeServerError(
                "expected \(String(reflecting: line)) from the client, got "
                    + String(reflecting: got))
        }
    }

    func expectSilence(_ seconds: Double) throws {
        try checkOpen()
        guard pending.isEmpty else {
            throw FakeServerError("the client sent \(quoted(pending)) without waiting for the reply")
        }
        var pfd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(seconds * 1000)) > 0, let received = try receive(), !received.isEmpty else { return }
        pending += received
        throw FakeServerError("the client sent \(quoted(received)) without waiting for the reply")
    }

    func respond(_ table: [String: String]) throws {
        while let line = try nextLine() {
            guard let reply = table[line] else {
                throw FakeServerError(
                    "unexpected \(String(reflecting: line)) from the client; the script answers "
                        + table.keys.sorted().map { String(reflecting: $0) }.joined(separator: ", "))
            }
            try send(reply)
        }
    }

    /// What `nextLine(idleLimit:)` found.
    enum IdleLine: Equatable {
        case line(String)
        case closed
        /// Nothing complete came within the limit: a server's inactivity autologout (RFC 1939 §3) would fire now.
        case idle
    }

    /// The next client line (without CRLF), or `.idle` when none is complete within `seconds` of the call: what a
    /// server with an autologout timer sees. Plain connections only (under TLS, bytes may wait inside the library).
    func nextLine(idleLimit seconds: Double) throws -> IdleLine {
        try checkOpen()
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let newline = pending.firstIndex(of: 10) {
                var line = pending[..<newline]
                if line.last == 13 { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                pending.removeSubrange(...newline)
                return .line(text)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return .idle }
            var pfd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, left * 1000))) > 0 else { continue }
            guard let received = try receive() else { continue }
            guard !received.isEmpty else { return .closed }
            pending += received
        }
    }

    /// Reads one chunk and records it in the transcript. Returns [] at end of stream and nil on timeout.
    private func receive() throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let outcome: ReadOutcome = try buffer.withUnsafeMutableBytes { raw in
            if let tls { return try tls.read(into: raw) }
            let n = recv(socket, raw.baseAddress, raw.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .end }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .timedOut }
            if errno == ECONNRESET { return .end }
            throw FakeServerError("read from the client failed: \(String(cString: strerror(errno)))")
        }
        switch outcome {
        case .bytes(let n):
            server.recordReceived(buffer[..<n], secured: tls != nil, connection: number)
            return Array(buffer[..<n])
        case .end:
            return []
        case .timedOut:
            return nil
        }
    }

    /// After the script: keeps recording until the client closes or `timeout` passes, so the transcript shows what
    /// the client did after the server stopped answering.
    func drainUntilClientCloses() {
        guard !closed else { return }
        let deadline = Date().addingTimeInterval(server.timeout)
        while Date() < deadline && !server.isStopping {
            guard let received = try? receive(), !received.isEmpty else { return }
        }
    }

    // MARK: - TLS

    func startTLS(_ certificate: FakeCertificate, upTo version: FakeTLSVersion? = nil) throws {
        let candidate = try beginHandshake(certificate, upTo: version)
        if let failure = candidate.accept() {
            throw FakeServerError("TLS handshake with the \(certificate) certificate failed: \(failure)")
        }
        tls = candidate
    }

    /// The client must abort; afterwards the session reads the bare socket again, so a client that fell back to
    /// plaintext after rejecting the certificate is caught in `FakeTranscript.plain`.
    func startTLSRejected(_ certificate: FakeCertificate, upTo version: FakeTLSVersion? = nil) throws {
        let candidate = try beginHandshake(certificate, upTo: version)
        if candidate.accept() == nil {
            throw FakeServerError(
                "the client completed a TLS handshake with the \(certificate) certificate"
                    + (version.map { " up to \($0.rawValue)" } ?? ""))
        }
    }

    private func beginHandshake(_ certificate: FakeCertificate, upTo version: FakeTLSVersion?) throws -> ServerTLS {
        try checkOpen()
        guard tls == nil else { throw FakeServerError("TLS is already active") }
        // Bytes the client sent after its STLS and before the handshake would be read as garbage by SSL_accept.
        guard pending.isEmpty else {
            throw FakeServerError(
                "the client sent \(pending.count) bytes before the TLS handshake: "
                    + quoted(pending))
        }
        return try ServerTLS(socket: socket, certificate: certificate, upTo: version)
    }

    // MARK: - Timing and closing

    func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        usleep(UInt32(min(seconds, 60) * 1_000_000))
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Ends the connection politely (close_notify under TLS); the server closes the descriptor.
    fileprivate func end() {
        if !closed { tls?.shutdown() }
        close()
        tls = nil
    }

    private func checkOpen() throws {
        if closed { throw FakeServerError("the script used the connection after closing it") }
    }
}

/// Client bytes as a quoted Swift string literal, escapes visible, for failure messages.
private func quoted(_ bytes: [UInt8]) -> String {
    String(reflecting: String(decoding: bytes, as: UTF8.self))
}

private enum ReadOutcome {
    case bytes(Int)
    case end
    case timedOut
}

/// The server end of a TLS session on an accepted socket, using the cached fake PKI. One Swift type per C handle.
private final class ServerTLS {
    private let context: OpaquePointer
    private let ssl: OpaquePointer

    init(socket: Int32, certificate: FakeCertificate, upTo version: FakeTLSVersion? = nil) throws {
        let pki = try FakePKI.shared()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw FakeServerError("SSL_CTX_new: \(ServerTLS.drainErrors())")
        }
        if let version {
            // An old server for real: it speaks TLS 1.0 up to `version`, which OpenSSL 3 allows only at security
            // level 0 (SHA-1 signatures), so a client that refuses it refuses the version, not a missing cipher.
            guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_VERSION), nil) == 1,
                SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, version.openSSL, nil) == 1,
                SSL_CTX_set_cipher_list(context, "DEFAULT:@SECLEVEL=0") == 1
            else {
                let reason = ServerTLS.drainErrors()
                SSL_CTX_free(context)
                throw FakeServerError("cannot limit the fake server to \(version.rawValue): \(reason)")
            }
        }
        guard SSL_CTX_use_certificate_chain_file(context, pki.certificateFile(certificate)) == 1,
            SSL_CTX_use_PrivateKey_file(context, pki.keyFile(certificate), SSL_FILETYPE_PEM) == 1,
            let ssl = SSL_new(context)
        else {
            let reason = ServerTLS.drainErrors()
            SSL_CTX_free(context)
            throw FakeServerError("cannot load the \(certificate) certificate: \(reason)")
        }
        self.context = context
        self.ssl = ssl
        SSL_set_fd(ssl, socket)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// SSL_accept, bounded by the socket's timeouts. Nil on success, else why it failed.
    func accept() -> String? {
        ERR_clear_error()
        let rc = SSL_accept(ssl)
        if rc == 1 { return nil }
        let code = SSL_get_error(ssl, rc)
        let detail = ServerTLS.drainErrors()
        return "SSL_accept error \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    }

    fileprivate func read(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if n > 0 { return .bytes(Int(n)) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .timedOut
        case SSL_ERROR_ZERO_RETURN:
            return .end
        default:
            // The client closed without close_notify, or reset: for a fake server that is simply the end.
            _ = ServerTLS.drainErrors()
            return .end
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        ERR_clear_error()
        let n = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        guard n > 0 else { throw FakeServerError("TLS write failed: \(ServerTLS.drainErrors())") }
        return Int(n)
    }

    /// Sends close_notify once, without waiting for the client's.
    func shutdown() {
        _ = SSL_shutdown(ssl)
    }

    static func drainErrors() -> String {
        var parts: [String] = []
        // Bounded: the queue is short, and 64 entries are more than OpenSSL ever keeps.
        for _ in 0..<64 {
            let code = ERR_get_error()
            if code == 0 { break }
            parts.append(ERR_reason_error_string(code).map { String(cString: $0) } ?? "error \(code)")
        }
        return parts.joined(separator: "; ")
    }
}
