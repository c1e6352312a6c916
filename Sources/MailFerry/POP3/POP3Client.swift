import Foundation

/// Where and how to reach a POP3 server.
public struct POP3Endpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var tls: TLSMode
    public var tlsSettings: TLSSettings
    /// Permits a password in clear on a `tls: none` connection. Without it we refuse before sending credentials.
    public var allowPlaintext: Bool
    /// Seconds for connect and for each read or write.
    public var timeout: Double

    public init(host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
                allowPlaintext: Bool = false, timeout: Double = 60) {
        self.host = host
        self.port = port
        self.tls = tls
        self.tlsSettings = tlsSettings
        self.allowPlaintext = allowPlaintext
        self.timeout = timeout
    }

    public var label: String { "\(host):\(port)" }
}

/// One message in a maildrop listing: its session number, its unique id and its size in octets.
public struct POP3Entry: Sendable, Equatable {
    public var number: Int
    public var uidl: String
    public var size: Int
}

/// A POP3 client session (RFC 1939) that only ever reads: it has no DELE.
///
/// Session states follow RFC 1939 §3: authorization (after the greeting), transaction (after login), and the
/// update state is entered only by QUIT, which with no DELE sent leaves the maildrop unchanged.
/// After any protocol error the session is botched and must not be reused.
public final class POP3Client {
    public let endpoint: POP3Endpoint
    private var connection: Connection?
    private(set) var capabilities = POP3Capabilities()
    private(set) var greeting = ""
    private(set) var botched = false
    /// Receives every command and reply line; passwords are redacted before they get here.
    var trace: ((String) -> Void)?

    public init(endpoint: POP3Endpoint) {
        self.endpoint = endpoint
    }

    deinit { connection?.close() }

    public var tlsInfo: TLSInfo? { connection?.tlsInfo }

    // MARK: - Connect

    /// Connects, reads the greeting, learns capabilities and secures the connection as the endpoint demands.
    public func connect() throws {
        do {
            let conn = try Connection.open(host: endpoint.host, port: endpoint.port, timeout: endpoint.timeout)
            connection = conn
            if endpoint.tls == .implicit {
                try conn.upgradeToTLS(host: endpoint.host, settings: endpoint.tlsSettings)
            }
            let hello = try readReply()
            guard hello.ok else {
                throw classify(hello, doing: "greeting")
            }
            greeting = hello.text
            try readCapabilities()
            if endpoint.tls == .starttls {
                try startTLS(conn)
            }
        } catch let error as MailError {
            botched = true
            throw error.context("pop3 \(endpoint.label)")
        }
    }

    /// STLS (RFC 2595 §4): mandatory once configured, never a silent fallback to plaintext.
    private func startTLS(_ conn: Connection) throws {
        guard capabilities.known else {
            throw MailError(.tls, "STARTTLS required but the server does not answer CAPA; refusing to continue "
                + "in plaintext")
        }
        guard capabilities.stls else {
            throw MailError(.tls, "STARTTLS required but the server does not offer STLS; refusing to continue "
                + "in plaintext")
        }
        let reply = try command("STLS")
        guard reply.ok else {
            throw MailError(.tls, "server refused STLS: \(reply.text)")
        }
        try conn.upgradeToTLS(host: endpoint.host, settings: endpoint.tlsSettings)
        // Everything learned before TLS could have been forged by a man in the middle.
        capabilities = POP3Capabilities()
        try readCapabilities()
        guard capabilities.known else {
            throw MailError(.tls, "CAPA failed after STLS")
        }
    }

    private func readCapabilities() throws {
        let reply = try command("CAPA")
        guard reply.ok else {
            capabilities = POP3Capabilities()
            return
        }
        capabilities = POP3Capabilities.parse(try readMultiLine())
    }

    // MARK: - Authorization

    /// Logs in with USER/PASS (RFC 1939 §7). Refuses to send a password in clear unless the plan allowed it.
    public func login(user: String, password: String) throws {
        do {
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            if conn.tlsInfo == nil && !endpoint.allowPlaintext {
                throw MailError(.tls, "refusing to send the password for \(user) in clear text: the connection is "
                    + "not encrypted and the plan does not set allowPlaintext for this source")
            }
            try checkArgument(user, what: "user name")
            try checkArgument(password, what: "password")
            let userReply = try command("USER \(user)")
            guard userReply.ok else { throw classify(userReply, doing: "USER", defaultKind: .auth) }
            let passReply = try command("PASS \(password)", traceAs: "PASS <redacted>")
            guard passReply.ok else { throw classify(passReply, doing: "login as \(user)", defaultKind: .auth) }
            // Some servers (RFC 2449 §6.5) only advertise LOGIN-DELAY per user after login; CAPA again is allowed.
        } catch let error as MailError {
            throw error.context("pop3 \(endpoint.label)")
        }
    }

    private func checkArgument(_ value: String, what: String) throws {
        if value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
            throw MailError(.auth, "the \(what) contains a line break or NUL and cannot be sent")
        }
    }

    // MARK: - Transaction

    /// The maildrop listing: UIDL (RFC 1939 §7) joined with LIST sizes.
    public func listing() throws -> [POP3Entry] {
        do {
            let uidlReply = try command("UIDL")
            guard uidlReply.ok else {
                throw MailError(.permanent, "the server does not support UIDL (\(uidlReply.text)); without unique "
                    + "ids mailferry cannot tell new messages from old ones")
            }
            var uidls: [Int: String] = [:]
            for line in try readMultiLine() {
                let parts = line.split(separator: 32, maxSplits: 1, omittingEmptySubsequences: true)
                guard parts.count == 2, let number = Int(String(decoding: parts[0], as: UTF8.self)) else {
                    throw MailError(.protocol, "malformed UIDL line: \(sanitizeForDisplay(line, limit: 120))")
                }
                let uid = parts[1].filter { $0 != 32 && $0 != 9 }
                // RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E.
                guard !uid.isEmpty, uid.count <= 70, uid.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                    throw MailError(.protocol, "invalid unique id for message \(number): "
                        + sanitizeForDisplay(Array(uid), limit: 120))
                }
                uidls[number] = String(decoding: uid, as: UTF8.self)
            }
            let listReply = try command("LIST")
            guard listReply.ok else { throw classify(listReply, doing: "LIST") }
            var sizes: [Int: Int] = [:]
            for line in try readMultiLine() {
                let parts = line.split(separator: 32, omittingEmptySubsequences: true)
                guard parts.count >= 2, let number = Int(String(decoding: parts[0], as: UTF8.self)),
                      let size = Int(String(decoding: parts[1], as: UTF8.self)) else {
                    throw MailError(.protocol, "malformed LIST line: \(sanitizeForDisplay(line, limit: 120))")
                }
                sizes[number] = size
            }
            var seen = Set<String>()
            var entries: [POP3Entry] = []
            for number in uidls.keys.sorted() {
                let uid = uidls[number]!
                guard seen.insert(uid).inserted else {
                    throw MailError(.protocol, "the server lists unique id \(sanitizeForDisplay(uid)) twice")
                }
                entries.append(POP3Entry(number: number, uidl: uid, size: sizes[number] ?? 0))
            }
            return entries
        } catch let error as MailError {
            botched = true
            throw error.context("pop3 \(endpoint.label)")
        }
    }

    /// RETR (RFC 1939 §7): streams the message, dot-unstuffed, to `sink` chunk by chunk.
    public func retrieve(_ number: Int, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        do {
            let reply = try command("RETR \(number)")
            guard reply.ok else { throw classify(reply, doing: "RETR \(number)") }
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            try conn.readDotBody(sink)
        } catch let error as MailError {
            botched = true
            throw error.context("pop3 \(endpoint.label)")
        }
    }

    /// QUIT (RFC 1939 §6). With no DELE sent, the update state removes nothing. Errors here are not worth raising:
    /// everything we needed is already done, and the server rolls back an unfinished session anyway.
    public func quit() {
        defer {
            connection?.close()
            connection = nil
        }
        guard !botched, connection != nil else { return }
        _ = try? command("QUIT")
    }

    // MARK: - Wire

    private func command(_ line: String, traceAs: String? = nil) throws -> POP3Reply {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        trace?("C: " + (traceAs ?? line))
        try conn.write(line + "\r\n")
        return try readReply()
    }

    private func readReply() throws -> POP3Reply {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        let line = try conn.readLine()
        let reply = try POP3Reply.parse(line)
        trace?("S: " + sanitizeForDisplay(line, limit: 200))
        return reply
    }

    /// Reads the lines of a multi-line response up to its terminator, dot-unstuffed; bounded in count.
    private func readMultiLine(maxLines: Int = 5_000_000) throws -> [[UInt8]] {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        var lines: [[UInt8]] = []
        while true {
            var line = try conn.readLine()
            if line == [46] { return lines }
            if line.first == 46 { line.removeFirst() }
            lines.append(line)
            if lines.count > maxLines {
                throw MailError(.protocol, "multi-line response longer than \(maxLines) lines")
            }
        }
    }

    /// Maps an -ERR to the failure classification (RFC 2449 §8, RFC 3206).
    private func classify(_ reply: POP3Reply, doing what: String, defaultKind: FailureKind = .permanent) -> MailError {
        let kind: FailureKind
        switch reply.code {
        case "AUTH"?: kind = .auth
        case "IN-USE"?, "LOGIN-DELAY"?, "SYS/TEMP"?: kind = .transient
        case "SYS/PERM"?: kind = .permanent
        default: kind = defaultKind
        }
        let code = reply.code.map { "[\($0)] " } ?? ""
        return MailError(kind, "\(what) refused: \(code)\(reply.text)")
    }
}
