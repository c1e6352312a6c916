import Foundation
import MailCore
import MailSystem

/// A POP3 client session (RFC 1939) that only ever reads: it has no DELE.
///
/// Session states follow RFC 1939 §3: authorization (after the greeting), transaction (after login), and the
/// update state is entered only by QUIT, which with no DELE sent leaves the maildrop unchanged.
/// After any protocol error the session is botched and is never reused.
public final class POP3Client: ProtocolSession {
    public let endpoint: ServerEndpoint
    var connection: Connection?
    public internal(set) var capabilities = POP3Capabilities()
    /// The greeting's text, sanitized.
    public private(set) var greeting = ""
    /// The greeting's bytes after "+OK", for the APOP timestamp.
    var greetingRaw: [UInt8] = []
    public package(set) var botched = false
    /// The message whose RETR the server just refused with -ERR (the session itself is fine), if the last
    /// `retrieve` failed that way.
    public internal(set) var refusedRetrieval: Int?
    /// RETR commands sent whose replies are not read yet (pipelining), oldest first.
    var pendingRetrievals: [Int] = []
    /// Receives every command and reply line; credentials are redacted before they get here.
    public var trace: ((String) -> Void)?
    /// Fresh connections opened by `reconnect` (a refused login method is never followed on its own connection).
    public private(set) var reconnections = 0

    public init(endpoint: ServerEndpoint) {
        self.endpoint = endpoint
    }

    deinit { connection?.close() }

    public var tlsInfo: TLSInfo? { connection?.tlsInfo }

    // MARK: - Connect

    /// Connects, reads the greeting, learns capabilities and secures the connection as the endpoint demands.
    public func connect() throws {
        try guarded {
            let conn = try endpoint.connect()
            connection = conn
            let hello = try readReply()
            guard hello.ok else {
                throw classify(hello, doing: "greeting")
            }
            greeting = hello.text
            greetingRaw = hello.raw
            try readCapabilities()
            if endpoint.tls == .starttls {
                try startTLS(conn)
            }
        }
    }

    /// Drops the connection and opens a fresh one (greeting, CAPA, TLS as before): after a refused login method,
    /// the next one never goes down the same connection. Some servers (solid-pop3d, popa3d) hang up after a
    /// failed login, and whatever state a refusal left is not worth trusting.
    func reconnect() throws {
        connection?.close()
        connection = nil
        capabilities = POP3Capabilities()
        greeting = ""
        greetingRaw = []
        botched = false
        refusedRetrieval = nil
        pendingRetrievals = []
        reconnections += 1
        try connect()
    }

    /// STLS (RFC 2595 §4), which needs CAPA to be known to be offered; after it CAPA is asked again.
    private func startTLS(_ conn: Connection) throws {
        let unavailable =
            !capabilities.known
            ? "the server does not answer CAPA"
            : !capabilities.stls ? "the server does not offer STLS" : nil
        try endpoint.startTLS(on: conn, unavailable: unavailable) {
            let reply = try command("STLS")
            return reply.ok ? nil : "server refused STLS: \(reply.text)"
        } relearn: {
            capabilities = POP3Capabilities()
            try readCapabilities()
            guard capabilities.known else {
                throw MailError(.tls, "CAPA failed after STLS")
            }
        }
    }

    func readCapabilities() throws {
        let reply = try command("CAPA")
        guard reply.ok else {
            capabilities = POP3Capabilities()
            return
        }
        capabilities = POP3Capabilities.parse(try readMultiLine(maxBytes: 1 << 20))
    }

    /// QUIT (RFC 1939 §6). With no DELE sent, the update state removes nothing. Replies to RETRs still in the
    /// pipeline (a run stopped between messages) are read and dropped first, up to `quitDrainLimit` bytes in all. A
    /// session after an error, or with more than that still to come, is just closed: the server then removes
    /// nothing either (it never enters the update state).
    public func quit() {
        defer {
            connection?.close()
            connection = nil
        }
        guard !botched, connection != nil, drainPipeline() else { return }
        _ = try? command("QUIT")
    }

    /// Bytes of pipelined replies `quit` reads and drops to end the session with QUIT.
    static let quitDrainLimit = 16 << 20

    /// Reads and drops the replies of pipelined RETRs; false if that failed or would exceed `quitDrainLimit`.
    private func drainPipeline() -> Bool {
        guard !pendingRetrievals.isEmpty else { return true }
        var budget = Self.quitDrainLimit
        do {
            try guarded {
                guard let conn = connection else { throw MailError(.protocol, "not connected") }
                while !pendingRetrievals.isEmpty {
                    pendingRetrievals.removeFirst()
                    guard try readReply().ok else { continue }
                    try conn.readDotBody { chunk in
                        budget -= chunk.count
                        if budget < 0 { throw MailError(.local, "too much pipelined data to read before QUIT") }
                    }
                }
            }
            return true
        } catch {
            return false
        }
    }

    // MARK: - Wire

    package var sessionLabel: String { "pop3 \(endpoint.label)" }

    /// The one place commands leave: a botched session sends nothing more (not even a user name to a caller that
    /// ignored the error that botched it). Unless pipelined replies are still due, the server must have said nothing
    /// since its last complete reply (or its greeting): anything it did say botches the session before the command
    /// leaves (`Connection.expectQuiet`; a lone "-ERR" is the server hanging up, anything else a protocol violation).
    func send(_ line: String, traceAs: String? = nil) throws {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        guard !botched else {
            throw MailError(.protocol, "the session failed earlier and is not reused; nothing more is sent")
        }
        if pendingRetrievals.isEmpty {
            do {
                try conn.expectQuiet(before: commandName(line, traceAs: traceAs)) { line in
                    line.prefix(4).map(asciiUpper).elementsEqual("-ERR".utf8)
                }
            } catch {
                botched = true
                throw error
            }
        }
        trace?("C: " + (traceAs ?? line))
        try conn.write(line + "\r\n")
    }

    func command(_ line: String, traceAs: String? = nil) throws -> POP3Reply {
        try send(line, traceAs: traceAs)
        return try readReply()
    }

    func readLine() throws -> [UInt8] {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        let line = try conn.readLine()
        trace?("S: " + sanitizeForDisplay(line, limit: 200))
        return line
    }

    func readReply() throws -> POP3Reply {
        try POP3Reply.parse(try readLine())
    }

    /// Reads the lines of a multi-line response up to its terminator, dot-unstuffed; bounded in bytes (128 MiB is
    /// a UIDL listing of over a million messages), so an endless reply cannot eat the machine's memory.
    func readMultiLine(maxBytes: Int = 128 << 20) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var total = 0
        while true {
            var line = try readLine()
            if line == [46] { return lines }
            if line.first == 46 { line.removeFirst() }
            total += line.count + 2
            if total > maxBytes {
                throw MailError(.protocol, "multi-line response longer than \(maxBytes >> 10) KiB")
            }
            lines.append(line)
        }
    }

    /// Maps an -ERR to the failure classification (RFC 2449 §8, RFC 3206).
    func classify(_ reply: POP3Reply, doing what: String, defaultKind: FailureKind = .permanent) -> MailError {
        let kind: FailureKind
        switch reply.code {
        case .auth?: kind = .auth
        case .inUse?, .loginDelay?, .sysTemp?: kind = .transient
        case .sysPerm?: kind = .permanent
        case .other?, nil: kind = defaultKind
        }
        let code = reply.code.map { "[\($0)] " } ?? ""
        return MailError(kind, "\(what) refused: \(code)\(reply.text)", code: reply.code.map { .pop3($0) })
    }
}
