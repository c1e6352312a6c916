import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Building blocks for fake POP3 server scripts, so each test spells out only the part that goes wrong.
enum POP3Script {
    static let user = "alice"
    static let password = "pw-7Fq2"

    static func greeting(_ text: String = "fake POP3 server ready") -> FakeStep {
        .send("+OK \(text)\r\n")
    }

    /// A multi-line response (RFC 1939 §3): status line, dot-stuffed lines, terminator.
    static func multiLine(_ status: String = "+OK", _ lines: [String]) -> String {
        status + "\r\n" + lines.map { ($0.hasPrefix(".") ? "." : "") + $0 + "\r\n" }.joined() + ".\r\n"
    }

    /// CAPA (RFC 2449 §5) answered with these capability lines.
    static func capa(_ names: String...) -> [FakeStep] {
        [.expect("CAPA"), .send(multiLine("+OK capability list follows", names))]
    }

    static let login: [FakeStep] = [
        .expect("USER \(user)"), .send("+OK send your password\r\n"),
        .expect("PASS \(password)"), .send("+OK maildrop locked and ready\r\n"),
    ]

    static let quit: [FakeStep] = [.expect("QUIT"), .send("+OK bye\r\n")]

    /// Greeting, CAPA offering STLS, STLS, a handshake with `certificate`, and CAPA again under TLS (RFC 2595 §4).
    static func starttls(_ certificate: FakeCertificate = .good) -> [FakeStep] {
        [greeting()] + capa("STLS", "USER", "UIDL") + [
            .expect("STLS"), .send("+OK begin TLS negotiation\r\n"), .startTLS(certificate),
        ] + capa("USER", "UIDL")
    }

    /// A session up to the transaction state without TLS, for a client with `allowPlaintext`.
    static let plainLogin: [FakeStep] = [greeting()] + capa("USER", "UIDL") + login
}

extension FakeServer {
    /// An endpoint for this server; TLS modes trust the fake test CA.
    func endpoint(
        tls: TLSMode, host: String = "127.0.0.1", allowPlaintext: Bool = false,
        timeout: Double = 5
    ) throws -> ServerEndpoint {
        let settings = tls == .none ? TLSSettings() : TLSSettings(caFile: try FakePKI.shared().caFile)
        return ServerEndpoint(
            host: host, port: port, tls: tls, tlsSettings: settings, allowPlaintext: allowPlaintext,
            timeout: timeout)
    }

    /// A client that may log in without TLS, for tests about what happens after login.
    func plainClient(timeout: Double = 5) throws -> POP3Client {
        POP3Client(endpoint: try endpoint(tls: .none, allowPlaintext: true, timeout: timeout))
    }
}

/// Bytes a test can compare with `==` and read in a failure message.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// One scripted server per way a POP3 server can be broken or hostile, each asserting the failure class, a readable
/// message and, where it matters, the exact bytes the client wrote. These pin down what the client does.
///
/// Each test closes its client and finishes the server in a `defer`, so script failures are reported even when the
/// test throws; tests that read the transcript do both earlier, which is harmless: both are idempotent.
@Suite struct POP3HostileServerTests {
    // MARK: - STARTTLS (RFC 2595 §4): mandatory once configured

    /// A man in the middle removes STLS from CAPA; the client must not carry on in plaintext, even if asked to log in.
    @Test func starttlsStrippedFromCapaIsRefused() throws {
        let server = try FakeServer(steps: [POP3Script.greeting()] + POP3Script.capa("USER", "UIDL"))
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("does not offer STLS") == true)
        // A caller that ignored the connect error still cannot leak the password.
        let login = #expect(throws: MailError.self) {
            try client.login(user: POP3Script.user, password: POP3Script.password)
        }
        #expect(login?.kind == .tls)
        #expect(client.botched)
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes("CAPA\r\n"))
        #expect(!server.transcript.contains("USER") && !server.transcript.contains("PASS"))
    }

    /// "+OK" to STLS with a forged reply in the same packet: the forged bytes would be read as if they came through
    /// TLS, so the client must abort before its handshake instead of starting one (the 2021 STARTTLS study).
    @Test func bytesInjectedAfterSTLSAbortTheHandshake() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("STLS", "USER") + [
                .expect("STLS"), .sendRaw(bytes("+OK begin\r\n+OK injected\r\n")),
            ])
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("injection") == true)
        client.quit()
        server.finish()
        // Nothing after STLS: no ClientHello, no USER.
        #expect(server.transcript.plain == bytes("CAPA\r\nSTLS\r\n"))
        #expect(server.transcript.secured.isEmpty)
    }

    /// Without a CAPA answer there is no STLS to trust; the client refuses instead of trying its luck in clear.
    @Test func capaErrorWithStarttlsIsRefused() throws {
        let server = try FakeServer(POP3Script.greeting(), .expect("CAPA"), .send("-ERR unknown command\r\n"))
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("does not answer CAPA") == true)
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes("CAPA\r\n"))
    }

    @Test func stlsErrorIsRefused() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("STLS", "USER") + [
                .expect("STLS"), .send("-ERR TLS is resting today\r\n"),
            ])
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("refused STLS: TLS is resting today") == true)
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes("CAPA\r\nSTLS\r\n"))
    }

    /// Capabilities seen before TLS could be a man in the middle's (RFC 2595 §4): SASL PLAIN offered only in clear
    /// is forgotten after STLS, so the client logs in with the USER the secured CAPA offers, never AUTH PLAIN.
    @Test func capabilitiesFromBeforeSTLSAreForgotten() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("STLS", "SASL PLAIN", "UIDL") + [
                .expect("STLS"), .send("+OK begin TLS negotiation\r\n"), .startTLS(.good),
            ] + POP3Script.capa("USER", "UIDL") + POP3Script.login + POP3Script.quit)
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        #expect(client.capabilities.saslMechanisms.isEmpty && client.capabilities.user)
        #expect(try client.login(user: POP3Script.user, credential: .password(POP3Script.password)) == .user)
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\nSTLS\r\n")
        #expect(server.transcript.securedText == "CAPA\r\nUSER alice\r\nPASS \(POP3Script.password)\r\nQUIT\r\n")
    }

    /// CAPA worked in clear but fails under TLS: what the server can do is unknown, and what it said in clear may
    /// not be trusted, so the session ends there, without a credential.
    @Test func capaErrorAfterSTLSAborts() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("STLS", "USER", "UIDL") + [
                .expect("STLS"), .send("+OK begin TLS negotiation\r\n"), .startTLS(.good),
                .expect("CAPA"), .send("-ERR not now\r\n"),
            ])
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("CAPA failed after STLS") == true, "\(error?.message ?? "")")
        #expect(client.botched)
        #expect(throws: MailError.self) { try client.login(user: POP3Script.user, password: POP3Script.password) }
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\nSTLS\r\n")
        #expect(server.transcript.securedText == "CAPA\r\n")
    }

    /// An old server without CAPA behind implicit TLS (RFC 2449 came after RFC 1939): nothing to learn, so the client
    /// tries the one login every POP3 server has, USER/PASS, and reads the maildrop.
    @Test func implicitTLSServerWithoutCapaLogsInWithUserPass() throws {
        let server = try FakeServer(
            steps: [
                .startTLS(.good), POP3Script.greeting(), .expect("CAPA"),
                .send("-ERR unknown command\r\n"),
            ] + POP3Script.login + [
                .expect("LIST"), .send(POP3Script.multiLine("+OK", ["1 24"])),
                .expect("UIDL"), .send(POP3Script.multiLine("+OK", ["1 uid-one"])),
            ] + POP3Script.quit)
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        #expect(!client.capabilities.known)
        #expect(try client.login(user: POP3Script.user, credential: .password(POP3Script.password)) == .user)
        #expect(try client.listing() == [POP3Entry(number: 1, uidl: "uid-one", size: 24)])
        client.quit()
        server.finish()
        #expect(server.transcript.plain.isEmpty)
        #expect(
            server.transcript.securedText
                == "CAPA\r\nUSER alice\r\nPASS \(POP3Script.password)\r\nLIST\r\nUIDL\r\nQUIT\r\n")
    }

    // MARK: - Certificate verification

    /// Implicit TLS (POP3S) to a server whose certificate names only wrong.example, by address and by name.
    @Test(arguments: [
        ("127.0.0.1", "IP address mismatch for 127.0.0.1"), ("localhost", "hostname mismatch for localhost"),
    ])
    func certificateForAnotherHostIsRefused(host: String, reason: String) throws {
        let server = try FakeServer(.startTLSRejected(.wrongHost))
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit, host: host))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("certificate verify failed: \(reason)") == true, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.transcript.plain.isEmpty && server.transcript.secured.isEmpty)
    }

    /// STARTTLS to a server whose certificate expired in 2020.
    @Test func expiredCertificateIsRefused() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("STLS", "USER") + [
                .expect("STLS"), .send("+OK begin TLS negotiation\r\n"), .startTLSRejected(.expired),
            ])
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(
            error?.message.contains("certificate verify failed: certificate has expired") == true,
            "\(error?.message ?? "")")
        #expect(throws: MailError.self) { try client.login(user: POP3Script.user, password: POP3Script.password) }
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes("CAPA\r\nSTLS\r\n"))
        #expect(!server.transcript.contains("USER"))
    }

    @Test func certificateFromUnknownCAIsRefused() throws {
        let server = try FakeServer(.startTLSRejected(.unknownCA))
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(
            error?.message.contains("certificate verify failed: unable to get local issuer certificate") == true,
            "\(error?.message ?? "")")
    }

    /// TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1): a server that speaks nothing newer is refused during
    /// the handshake with an error that says so, before any command under TLS, so no credential leaves. By implicit
    /// TLS and by STARTTLS, where only CAPA and STLS went out in clear.
    @Test(arguments: [FakeTLSVersion.tls10, .tls11], [TLSMode.implicit, .starttls])
    func serverWithoutTLS12IsRefused(version: FakeTLSVersion, tls: TLSMode) throws {
        let handshake: [FakeStep] =
            tls == .implicit
            ? [.startTLSRejected(.good, upTo: version)]
            : [POP3Script.greeting()] + POP3Script.capa("STLS", "USER") + [
                .expect("STLS"), .send("+OK begin TLS negotiation\r\n"), .startTLSRejected(.good, upTo: version),
            ]
        let server = try FakeServer(steps: handshake)
        let client = POP3Client(endpoint: try server.endpoint(tls: tls))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("the server offers no TLS 1.2 or newer") == true, "\(error?.message ?? "")")
        #expect(throws: MailError.self) { try client.login(user: POP3Script.user, password: POP3Script.password) }
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes(tls == .implicit ? "" : "CAPA\r\nSTLS\r\n"))
        #expect(server.transcript.secured.isEmpty)
        #expect(!server.transcript.contains("USER") && !server.transcript.contains(POP3Script.password))
    }

    // MARK: - Login refusals (RFC 2449 §8, RFC 3206)

    /// The response code, not the text, decides whether a refused PASS is worth retrying.
    @Test(arguments: [
        ("AUTH", POP3ResponseCode.auth, FailureKind.auth), ("IN-USE", .inUse, .transient),
        ("SYS/TEMP", .sysTemp, .transient), ("SYS/PERM", .sysPerm, .permanent),
    ])
    func passRefusalIsClassifiedByItsResponseCode(code: String, typed: POP3ResponseCode, kind: FailureKind) throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting()] + POP3Script.capa("USER", "RESP-CODES") + [
                .expect("USER \(POP3Script.user)"), .send("+OK\r\n"),
                .expect("PASS \(POP3Script.password)"), .send("-ERR [\(code)] not today\r\n"),
            ] + POP3Script.quit)
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) {
            try client.login(user: POP3Script.user, password: POP3Script.password)
        }
        #expect(error?.kind == kind && error?.code == .pop3(typed))
        #expect(
            error?.message.contains("login as alice refused: [\(code)] not today") == true,
            "\(error?.message ?? "")")
    }

    // MARK: - Broken bodies

    /// Over TLS, the server dies in the middle of a RETR body (no close_notify). The bytes so far reached the sink,
    /// but retrieve throws, so nothing may treat them as a message.
    @Test func connectionDroppedMidRETRFailsTheRetrieval() throws {
        let partial = "From: bob@example.org\r\nSubject: cut short\r\n\r\nThe first line arrives.\r\nThe second li"
        let server = try FakeServer(
            steps: [.startTLS(.good), POP3Script.greeting()] + POP3Script.capa("USER", "UIDL")
                + POP3Script.login + [.expect("RETR 1"), .send("+OK 120 octets\r\n" + partial), .close])
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        var received: [UInt8] = []
        let error = #expect(throws: MailError.self) { try client.retrieve(1) { received += $0 } }
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("closed the connection") == true, "\(error?.message ?? "")")
        #expect(client.botched)
        #expect(received == bytes(partial))
        client.quit()
        server.finish()
        #expect(
            server.transcript.secured
                == bytes("CAPA\r\nUSER alice\r\nPASS \(POP3Script.password)\r\nRETR 1\r\n"))
    }

    /// Every line of the body arrives but the terminating "." never does: the message may be incomplete.
    @Test func bodyWithoutTerminatorFailsTheRetrieval() throws {
        let body = "Subject: no end\r\n\r\nLooks complete.\r\n"
        let server = try FakeServer(
            steps: POP3Script.plainLogin + [
                .expect("RETR 1"), .send("+OK message follows\r\n" + body), .close,
            ])
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        var received: [UInt8] = []
        let error = #expect(throws: MailError.self) { try client.retrieve(1) { received += $0 } }
        #expect(error?.kind == .transient)
        #expect(client.botched)
        #expect(received == bytes(body))
    }

    // MARK: - Hostile replies

    /// A greeting that never ends: the client stops at its line limit instead of buffering what the server sends.
    @Test func overlongGreetingIsRefusedWithoutReadingItAll() throws {
        let limit = 32 << 20
        let server = try FakeServer(.send("+OK "), .flood("x", upTo: limit))
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("sent a line longer than 65536 bytes") == true, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        // Whatever the kernel buffered aside, the client stopped reading long before the server ran out of bytes.
        #expect(server.flooded < limit)
    }

    /// A 100 KB capability line, CRLF-terminated: refused as a whole, not truncated and accepted.
    @Test func overlongLineInCapaIsRefused() throws {
        let longLine = String(repeating: "X", count: 100_000)
        let server = try FakeServer(steps: [POP3Script.greeting()] + POP3Script.capa(longLine))
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("sent a line longer than 65536 bytes") == true, "\(error?.message ?? "")")
    }

    /// Terminal escapes in the greeting and in -ERR text must not reach a person's terminal or a report raw.
    @Test func escapeSequencesFromTheServerAreNeutralized() throws {
        let server = try FakeServer(
            steps: [POP3Script.greeting("\u{1B}]0;owned\u{07}\u{1B}[2J hi")]
                + POP3Script.capa("USER") + [
                    .expect("USER alice"), .send("+OK\r\n"),
                    .expect("PASS \(POP3Script.password)"), .send("-ERR [AUTH] \u{1B}[31mdenied\u{07}\u{1B}[0m\r\n"),
                ] + POP3Script.quit)
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) {
            try client.login(user: POP3Script.user, password: POP3Script.password)
        }
        client.quit()
        server.finish()
        let controls: Set<UInt8> = [0x1B, 0x07]
        #expect(!client.greeting.utf8.contains(where: controls.contains), "\(client.greeting)")
        #expect(client.greeting.hasSuffix(" hi"))
        #expect(error?.kind == .auth)
        let message = error?.message ?? ""
        #expect(!message.utf8.contains(where: controls.contains), "\(message)")
        #expect(message.contains("denied"))
    }

    // MARK: - Timing

    /// Greeting and RETR reply arrive one byte at a time, 5 ms apart, in clear and over TLS: every split of a line
    /// and of the dot-stuffing must decode to the same bytes.
    @Test(arguments: [TLSMode.none, .implicit])
    func slowDripIsReadExactly(tls: TLSMode) throws {
        let wire = "Subject: slow\r\n\r\n..a line that starts with a dot\r\nlast line\r\n.\r\n"
        let expected = "Subject: slow\r\n\r\n.a line that starts with a dot\r\nlast line\r\n"
        let server = try FakeServer(
            steps: (tls == .implicit ? [.startTLS(.good)] : [])
                + [.drip("+OK dripping\r\n", delay: 0.005)] + POP3Script.capa("USER") + POP3Script.login
                + [.expect("RETR 1"), .drip("+OK 64 octets\r\n" + wire, delay: 0.005)] + POP3Script.quit)
        let client = POP3Client(endpoint: try server.endpoint(tls: tls, allowPlaintext: true))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        #expect(client.greeting == "dripping")
        try client.login(user: POP3Script.user, password: POP3Script.password)
        var received: [UInt8] = []
        try client.retrieve(1) { received += $0 }
        #expect(received == bytes(expected))
    }

    /// A server that accepts and says nothing: the connect fails after the configured timeout, not never.
    @Test func silentServerTimesOut() throws {
        let server = try FakeServer(steps: [])
        let client = try server.plainClient(timeout: 0.5)
        defer {
            client.quit()
            server.finish()
        }
        let started = Date()
        let error = #expect(throws: MailError.self) { try client.connect() }
        let elapsed = Date().timeIntervalSince(started)
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("timed out") == true, "\(error?.message ?? "")")
        #expect(elapsed >= 0.4 && elapsed < 2, "took \(elapsed) s")
    }

    // MARK: - What the client writes

    /// tls: none without allowPlaintext: the refusal comes before USER (or any SASL exchange), so not even the user
    /// name leaves in clear.
    @Test func plaintextLoginIsRefusedBeforeUSER() throws {
        let server = try FakeServer(steps: [POP3Script.greeting()] + POP3Script.capa("USER") + POP3Script.quit)
        let client = POP3Client(endpoint: try server.endpoint(tls: .none))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) {
            try client.login(user: POP3Script.user, password: POP3Script.password)
        }
        #expect(error?.kind == .tls)
        #expect(
            error?.message.contains("refusing to log in as alice over an unencrypted connection") == true,
            "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.transcript.plain == bytes("CAPA\r\nQUIT\r\n"))
    }

    /// A whole STARTTLS session, byte for byte: only CAPA and STLS in clear, CAPA again first thing under TLS, and a
    /// trace that never shows the password.
    @Test func starttlsSessionTranscriptIsExact() throws {
        let message = "Subject: hello\r\n\r\nHi.\r\n"
        let server = try FakeServer(
            steps: POP3Script.starttls() + POP3Script.login + [
                .expect("LIST"), .send(POP3Script.multiLine("+OK 2 messages", ["1 24", "2 4096"])),
                .expect("UIDL"), .send(POP3Script.multiLine("+OK", ["1 uid-one", "2 uid-two"])),
                .expect("RETR 1"), .send(POP3Script.multiLine("+OK 24 octets", ["Subject: hello", "", "Hi."])),
            ] + POP3Script.quit)
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        defer {
            client.quit()
            server.finish()
        }
        let trace = TraceLines()
        client.trace = { trace.lines.append($0) }
        try client.connect()
        #expect(client.tlsInfo?.peerSubject.contains("localhost") == true)
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let entries = try client.listing()
        #expect(
            entries == [
                POP3Entry(number: 1, uidl: "uid-one", size: 24),
                POP3Entry(number: 2, uidl: "uid-two", size: 4096),
            ])
        var received: [UInt8] = []
        try client.retrieve(1) { received += $0 }
        #expect(received == bytes(message))
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\nSTLS\r\n")
        #expect(server.transcript.securedText.hasPrefix("CAPA\r\n"))
        #expect(
            server.transcript.securedText
                == "CAPA\r\nUSER alice\r\nPASS \(POP3Script.password)\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n")
        #expect(trace.lines.contains("C: PASS <redacted>"))
        #expect(!trace.lines.contains { $0.contains(POP3Script.password) })
    }

    // MARK: - Listings

    /// Two messages with one unique id (a server bug): both are listed, and the duplicate is named so the caller
    /// tells them apart by content instead of dropping one.
    @Test func duplicateUIDLsKeepBothMessages() throws {
        let server = try FakeServer(
            steps: POP3Script.plainLogin + [
                .respond([
                    "LIST": POP3Script.multiLine("+OK", ["1 100", "2 200"]),
                    "UIDL": POP3Script.multiLine("+OK", ["1 same-id", "2 same-id"]),
                    "QUIT": "+OK bye\r\n",
                ])
            ])
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let drop = try client.maildrop()
        #expect(
            drop.entries == [
                POP3Entry(number: 1, uidl: "same-id", size: 100),
                POP3Entry(number: 2, uidl: "same-id", size: 200),
            ])
        #expect(drop.duplicateUIDLs == ["same-id"])
    }

    /// Without DELE every message of a fresh session is numbered 1...n (RFC 1939 §5 hides only messages deleted in
    /// this session), so a gap means the listing cannot be trusted: refused as a protocol error, never guessed at.
    @Test(arguments: ["LIST", "UIDL"])
    func nonConsecutiveMessageNumbersAreRefused(gappy: String) throws {
        let gap = gappy == "LIST" ? ["1 100", "3 300"] : ["1 first", "3 third"]
        let server = try FakeServer(
            steps: POP3Script.plainLogin + [
                .respond([
                    "LIST": POP3Script.multiLine("+OK", gappy == "LIST" ? gap : ["1 100", "2 200"]),
                    "UIDL": POP3Script.multiLine("+OK", gappy == "UIDL" ? gap : ["1 first", "2 second"]),
                ])
            ])
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let error = #expect(throws: MailError.self) { try client.listing() }
        #expect(error?.kind == .protocol)
        #expect(
            error?.message.contains("\(gappy) numbers are not consecutive (message 3 after 1)") == true,
            "\(error?.message ?? "")")
        #expect(client.botched)
    }

    /// UIDL and LIST disagree on how many messages there are: one of them is wrong, so neither is used.
    @Test func uidlAndListOfDifferentLengthsAreRefused() throws {
        let server = try FakeServer(
            steps: POP3Script.plainLogin + [
                .respond([
                    "LIST": POP3Script.multiLine("+OK", ["1 100", "2 200"]),
                    "UIDL": POP3Script.multiLine("+OK", ["1 first"]),
                ])
            ])
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let error = #expect(throws: MailError.self) { try client.listing() }
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("UIDL lists 1 messages but LIST lists 2") == true, "\(error?.message ?? "")")
    }
    // Invalid unique ids: POP3HostileServerLimitsTests (the listing) and POP3RunnerBehaviourTests (the run).
}

/// Collects trace lines; a class because the client keeps the closure.
final class TraceLines {
    var lines: [String] = []
}
