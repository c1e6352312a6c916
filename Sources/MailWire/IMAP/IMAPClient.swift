import Foundation
import MailCore
import MailSystem

/// An IMAP client session (RFC 9051, RFC 3501) for delivering: connect and secure, log in, make sure a folder
/// exists, APPEND, and search a folder for in-doubt attempts. One command per file (`IMAPClient+Auth`,
/// `+Mailbox`, `+Append`).
///
/// States follow RFC 9051 §3: not authenticated (after the greeting), authenticated (after login), selected (after
/// EXAMINE, for searches). After any protocol error or dropped connection the session is botched and never reused.
public final class IMAPClient: ProtocolSession {
    enum State: Equatable {
        case disconnected
        case notAuthenticated
        case authenticated
        case selected(String)
    }

    public let endpoint: ServerEndpoint
    var connection: Connection?
    var state = State.disconnected
    /// What the server announced last (CAPABILITY response or response code), upper-cased.
    public internal(set) var capabilities: Set<String> = []
    public package(set) var botched = false
    /// The greeting's text, sanitized.
    public private(set) var greeting = ""
    /// Receives every command and response line; credentials and message bodies never get here.
    public var trace: ((String) -> Void)?
    private var tagNumber = 0
    /// Longest literal accepted in a response: we never fetch bodies, so anything big is a broken or hostile server.
    static let maxResponseLiteral = 1 << 20
    /// Untagged lines one command may bring (a SEARCH of a huge folder is one line); bounds a chatty server.
    static let maxUntaggedPerCommand = 100_000

    public init(endpoint: ServerEndpoint) {
        self.endpoint = endpoint
    }

    deinit { connection?.close() }

    public var tlsInfo: TLSInfo? { connection?.tlsInfo }
    public var isUsable: Bool { connection != nil && !botched && state != .disconnected }

    func has(_ capability: String) -> Bool { capabilities.contains(capability) }

    // MARK: - Connect

    /// Connects, reads the greeting, and secures the connection as the endpoint demands: implicit TLS from the first
    /// byte, or STARTTLS (RFC 9051 §6.2.1) which is then mandatory, never a silent fallback to plaintext.
    public func connect() throws {
        try guarded {
            let conn = try endpoint.connect()
            connection = conn
            let hello = try readResponse()
            guard hello.kind == .untagged, let status = hello.status else {
                throw MailError(.protocol, "the server did not greet with \"* OK\": \(hello.text)")
            }
            greeting = hello.text
            switch status {
            case .ok: state = .notAuthenticated
            case .preauth: state = .authenticated
            case .bye: throw MailError(.transient, "the server refused the connection: \(hello.text)")
            default: throw MailError(.protocol, "unexpected greeting: \(status.rawValue) \(hello.text)")
            }
            if hello.code == .capability {
                capabilities = IMAPResponse.capabilities(hello.codeArguments)
            }
            // A greeting is one line: a second greeting or a flood of untagged data after it is refused here, also
            // after PREAUTH (`expectQuietBeforeLogin`).
            try expectQuiet(before: "the first command")
            if endpoint.tls == .starttls {
                try startTLS(conn)
            } else if capabilities.isEmpty {
                try refreshCapabilities()
            }
        }
    }

    /// STARTTLS (RFC 9051 §6.2.1, RFC 2595 §3.1): what the server said before TLS is forgotten, and bytes that
    /// arrive between its OK and the handshake abort the connection (they could be an injected response).
    private func startTLS(_ conn: Connection) throws {
        guard state == .notAuthenticated else {
            // RFC 9051 §6.2.1: STARTTLS only in the not-authenticated state; a PREAUTH connection stays in clear.
            throw MailError(
                .tls,
                "STARTTLS required but the server pre-authenticated the connection in clear; "
                    + "refusing to continue")
        }
        if capabilities.isEmpty { try refreshCapabilities() }
        try endpoint.startTLS(on: conn, unavailable: has("STARTTLS") ? nil : "the server does not offer it") {
            let reply = try command("STARTTLS").tagged
            return reply.status == .ok ? nil : "the server refused STARTTLS: \(reply.text)"
        } relearn: {
            capabilities = []
            try refreshCapabilities()
        }
    }

    /// CAPABILITY (RFC 9051 §6.1.1).
    func refreshCapabilities() throws {
        let reply = try command("CAPABILITY")
        guard reply.tagged.status == .ok else {
            throw MailError(.protocol, "CAPABILITY failed: \(reply.tagged.text)")
        }
        if let data = reply.untagged.last(where: { $0.name == "CAPABILITY" }) {
            capabilities = IMAPResponse.capabilities(data.text)
        }
    }

    /// LOGOUT (RFC 9051 §6.1.3), then close. After an error the connection is just closed.
    public func logout() {
        defer {
            connection?.close()
            connection = nil
            state = .disconnected
        }
        guard !botched, connection != nil else { return }
        _ = try? command("LOGOUT")
    }

    // MARK: - Wire

    package var sessionLabel: String { "imap \(endpoint.label)" }

    func nextTag() -> String {
        tagNumber += 1
        return "mf\(tagNumber)"
    }

    func send(_ text: String, traceAs: String? = nil) throws {
        guard let conn = connection, !botched else { throw MailError(.transient, "not connected") }
        try expectQuietBeforeLogin(Self.commandName(traceAs ?? text))
        trace?("C: " + (traceAs ?? text))
        try conn.write(text + "\r\n")
    }

    /// Sends one command (without literals) and collects the responses up to its tagged status.
    func command(_ text: String, traceAs: String? = nil) throws -> (untagged: [IMAPResponse], tagged: IMAPResponse) {
        let tag = nextTag()
        try send("\(tag) \(text)", traceAs: traceAs.map { "\(tag) \($0)" })
        return try collect(tag: tag)
    }

    /// Unsolicited data (`Connection.expectQuiet`), IMAP's framing: untagged data may come at any time in IMAP
    /// (RFC 9051 §2.2.2, §5.3; EXISTS, EXPUNGE, FLAGS, "* OK [ALERT]"), and after the login it is read with the next
    /// command's responses as always. Before the login there is no mailbox for it to be about, and a credential is
    /// about to go out: there, from the greeting on, the server must have said nothing since its last complete
    /// response, or the session is botched with nothing sent ("* BYE" alone is the server hanging up). Dovecot,
    /// Cyrus, Gmail and Microsoft 365 send one greeting line and then answer only what is asked.
    func expectQuietBeforeLogin(_ what: String) throws {
        guard state == .notAuthenticated else { return }
        try expectQuiet(before: what)
    }

    /// A command line's name for messages, without its tag and arguments; a SASL response is named as such.
    static func commandName(_ line: String) -> String {
        let words = line.split(separator: " ", maxSplits: 2)
        if words.count >= 2, words[0].hasPrefix("mf") { return String(words[1]) }
        return MailWire.commandName(line, traceAs: nil)
    }

    /// `expectQuiet` in any state: after the greeting.
    private func expectQuiet(before what: String) throws {
        guard let conn = connection else { return }
        do {
            try conn.expectQuiet(before: what) { line in
                let words = line.split(separator: 32, maxSplits: 2)
                return words.count >= 2 && words[0].elementsEqual("*".utf8)
                    && words[1].map(asciiUpper).elementsEqual("BYE".utf8)
            }
        } catch {
            botched = true
            throw error
        }
    }

    /// Reads responses until the tagged status of `tag`. A continuation request here means the server and we
    /// disagree about the command: a protocol error.
    func collect(tag: String) throws -> (untagged: [IMAPResponse], tagged: IMAPResponse) {
        var untagged: [IMAPResponse] = []
        while true {
            let response = try readResponse()
            switch response.kind {
            case .tagged(let got):
                guard got == tag else {
                    throw MailError(.protocol, "response for unknown tag \(sanitizeForDisplay(got, limit: 20))")
                }
                if response.code == .capability { capabilities = IMAPResponse.capabilities(response.codeArguments) }
                if response.status == .bad {
                    throw MailError(.protocol, "the server rejected a command as malformed: \(response.text)")
                }
                return (untagged, response)
            case .continuation:
                throw MailError(.protocol, "unexpected continuation request: \(response.text)")
            case .untagged:
                try noteUntagged(response)
                untagged.append(response)
                if untagged.count > Self.maxUntaggedPerCommand {
                    throw MailError(
                        .protocol,
                        "more than \(Self.maxUntaggedPerCommand) untagged responses to one "
                            + "command")
                }
            }
        }
    }

    /// Untagged responses that matter whenever they come: BYE ends the session (RFC 9051 §7.1.5), a CAPABILITY code
    /// updates what we know.
    func noteUntagged(_ response: IMAPResponse) throws {
        if response.code == .capability { capabilities = IMAPResponse.capabilities(response.codeArguments) }
        if response.name == "CAPABILITY" { capabilities = IMAPResponse.capabilities(response.text) }
        if response.status == .bye {
            throw MailError(.transient, "the server closed the session: \(response.text)")
        }
    }

    /// Reads one response, with any literals it carries (RFC 9051 §4.3: a line ending "{n}" is followed by n octets
    /// and the rest of the response). Literals in responses are bounded: we never fetch message bodies.
    ///
    /// The line reader strips line ends, so a literal containing a line break is rebuilt assuming CRLF; the client
    /// only interprets literals without line breaks (mailbox names), which come back exact.
    func readResponse() throws -> IMAPResponse {
        guard let conn = connection else { throw MailError(.transient, "not connected") }
        var line = try conn.readLine()
        var literals: [[UInt8]] = []
        var whole: [UInt8] = []
        while let size = Self.trailingLiteralSize(line) {
            guard size <= Self.maxResponseLiteral, literals.count < 64 else {
                throw MailError(.protocol, "the server sent a literal of \(size) bytes in a response")
            }
            whole += line
            var literal: [UInt8] = []
            var next = try conn.readLine()
            while literal.count + next.count < size {
                literal += next + [13, 10]
                next = try conn.readLine()
            }
            let take = max(0, size - literal.count)
            literal += next.prefix(take)
            literals.append(literal)
            line = Array(next.dropFirst(take))
        }
        whole += line
        trace?("S: " + sanitizeForDisplay(whole, limit: 200))
        return try IMAPResponse.parse(whole, literals: literals)
    }

    /// n when the line ends with "{n}" or "{n+}".
    static func trailingLiteralSize(_ line: [UInt8]) -> Int? {
        guard line.last == 125, let open = line.lastIndex(of: 123) else { return nil }  // "}" ... "{"
        var digits = line[(open + 1)..<(line.count - 1)]
        if digits.last == 43 { digits = digits.dropLast() }  // "+"
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// Maps a tagged NO (or BAD) to the failure classification by its response code (RFC 5530).
    func classify(_ reply: IMAPResponse, doing what: String, defaultKind: FailureKind = .transient) -> MailError {
        let kind: FailureKind
        switch reply.code {
        case .overQuota?: kind = .quota
        case .authenticationFailed?, .authorizationFailed?, .expired?, .noPerm?: kind = .auth
        case .privacyRequired?: kind = .tls
        case .unavailable?, .inUse?, .serverBug?, .contactAdmin?: kind = .transient
        case .limit?, .tooBig?, .cannot?, .nonExistent?, .tryCreate?: kind = .permanent
        default: kind = reply.status == .bad ? .protocol : defaultKind
        }
        let code = reply.code.map { "[\($0)] " } ?? ""
        return MailError(kind, "\(what) refused: \(code)\(reply.text)", code: reply.code.map { .imap($0) })
    }
}
