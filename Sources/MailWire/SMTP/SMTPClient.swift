import Foundation
import Glibc
import MailCore
import MailSystem

/// Which of the two SMTP-family protocols a session speaks.
public enum SMTPDialect: String, Sendable {
    /// RFC 5321 to a relay or submission server: EHLO, one reply after DATA for all recipients.
    case smtp
    /// RFC 2033 to a final delivery agent: LHLO, one reply after DATA per accepted recipient.
    case lmtp
}

/// An SMTP or LMTP client session for delivering (RFC 5321, RFC 2033): greeting, EHLO/LHLO, STARTTLS, AUTH, and
/// transactions (`SMTPClient+Transaction`). One connection carries many transactions while it is healthy; after any
/// protocol error or a dropped connection it is botched and never reused.
public final class SMTPClient: ProtocolSession {
    public let endpoint: ServerEndpoint
    public let dialect: SMTPDialect
    /// The name given in EHLO/LHLO.
    public let clientName: String
    /// Seconds each reply after DATA's final "." is waited for (RFC 5321 §4.5.3.2.6: at least 10 minutes); the
    /// endpoint's timeout bounds every other read and write.
    public let dataTimeout: Double
    var connection: Connection?
    /// EHLO keywords (upper-cased) → their parameters ("SIZE" → "10240000", "AUTH" → "PLAIN LOGIN").
    public internal(set) var extensions: [String: String] = [:]
    public package(set) var botched = false
    public private(set) var greeting = ""
    public internal(set) var authenticated = false
    /// Receives every command and reply line; credentials and message bodies never get here.
    public var trace: ((String) -> Void)?

    /// How long the final reply to DATA may take (RFC 5321 §4.5.3.2.6 recommends 10 minutes) unless the plan says.
    public static let defaultDataTimeout = 600.0

    public init(
        endpoint: ServerEndpoint, dialect: SMTPDialect, clientName: String? = nil,
        dataTimeout: Double = SMTPClient.defaultDataTimeout
    ) {
        self.endpoint = endpoint
        self.dialect = dialect
        self.clientName = clientName ?? SMTPClient.localName()
        self.dataTimeout = dataTimeout
    }

    deinit { connection?.close() }

    public var tlsInfo: TLSInfo? { connection?.tlsInfo }
    public var isUsable: Bool { connection != nil && !botched }
    var name: String { dialect.rawValue }

    func has(_ keyword: String) -> Bool { extensions[keyword] != nil }

    /// This machine's name for EHLO: the host name, which Postfix and Dovecot accept.
    static func localName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty || !name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) ? "localhost" : name
    }

    // MARK: - Connect

    /// Connects, reads the greeting, says EHLO (LHLO), and secures the connection as the endpoint demands:
    /// implicit TLS (SMTPS, RFC 8314) or STARTTLS (RFC 3207), which is then mandatory, never a silent fallback.
    public func connect() throws {
        try guarded {
            let conn = try endpoint.connect()
            connection = conn
            let hello = try readReply()
            guard hello.code == 220 else {
                // 554 "no service here" (RFC 5321 §3.1), 421 "try later".
                throw hello.classify(doing: "greeting").withKind(hello.code == 554 ? .permanent : nil)
            }
            greeting = hello.text
            try sayHello()
            if endpoint.tls == .starttls {
                try endpoint.startTLS(on: conn, unavailable: has("STARTTLS") ? nil : "the server does not offer it") {
                    let reply = try command("STARTTLS")
                    return reply.code == 220 ? nil : "the server refused STARTTLS: \(reply.summary)"
                } relearn: {
                    // RFC 3207 §4.2: forget everything learned before TLS and say EHLO again.
                    extensions = [:]
                    try sayHello()
                }
            }
        }
    }

    /// EHLO (RFC 5321 §4.1.1.1) or LHLO (RFC 2033 §4.1); SMTP falls back to HELO when EHLO is unknown, only in clear
    /// without TLS (a server that knows STARTTLS knows EHLO).
    private func sayHello() throws {
        let verb = dialect == .lmtp ? "LHLO" : "EHLO"
        let reply = try command("\(verb) \(clientName)")
        if reply.code == 250 {
            extensions = [:]
            for line in reply.lines.dropFirst() {
                let keyword = line.prefix { $0 != " " && $0 != "=" }.uppercased()
                extensions[keyword] = String(line.dropFirst(keyword.count).drop { $0 == " " || $0 == "=" })
            }
            return
        }
        if dialect == .smtp && endpoint.tls == .none && (reply.code == 500 || reply.code == 502) {
            let helo = try command("HELO \(clientName)")
            if helo.code == 250 {
                extensions = [:]
                return
            }
            throw helo.classify(doing: "HELO")
        }
        throw reply.classify(doing: verb)
    }

    /// QUIT (RFC 5321 §4.1.1.10), then close; after an error the connection is just closed.
    public func quit() {
        defer {
            connection?.close()
            connection = nil
        }
        guard !botched, connection != nil else { return }
        _ = try? command("QUIT")
    }

    // MARK: - Wire

    package var sessionLabel: String { "\(name) \(endpoint.label)" }

    func send(_ line: String, traceAs: String? = nil) throws {
        guard let conn = connection, !botched else { throw MailError(.transient, "not connected") }
        try expectQuiet(before: commandName(line, traceAs: traceAs))
        trace?("C: " + (traceAs ?? line))
        try conn.write(line + "\r\n")
    }

    /// Unsolicited data (`Connection.expectQuiet`): an SMTP or LMTP server speaks only to answer (RFC 5321 §4.1), so
    /// before every command, and before a PIPELINING batch (RFC 2920) as a whole, nothing may have come since its last
    /// complete reply: a second banner or any other bytes botch the session with nothing sent. A lone 421 is the
    /// server closing the channel (RFC 5321 §3.8).
    func expectQuiet(before what: String) throws {
        guard let conn = connection else { return }
        do {
            try conn.expectQuiet(before: what) { line in
                line.starts(with: "421".utf8) && (line.count == 3 || line[line.startIndex + 3] == 32)
            }
        } catch {
            botched = true
            throw error
        }
    }

    package func command(_ line: String, traceAs: String? = nil) throws -> SMTPReply {
        try send(line, traceAs: traceAs)
        return try readReply()
    }

    func readReply() throws -> SMTPReply {
        guard let conn = connection else { throw MailError(.transient, "not connected") }
        let reply = try SMTPReply.read {
            let line = try conn.readLine()
            trace?("S: " + sanitizeForDisplay(line, limit: 200))
            return line
        }
        // 421: the server is closing the channel (RFC 5321 §3.8); whatever we were doing, this session is over.
        if reply.code == 421 {
            throw MailError(.transient, "the server is closing the connection: \(reply.summary)")
        }
        return reply
    }
}

extension MailError {
    func withKind(_ kind: FailureKind?) -> MailError {
        guard let kind else { return self }
        return MailError(kind, message, code: code)
    }
}
