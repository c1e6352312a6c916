import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// What a message may hold, by a reference that knows nothing of chunks: every CRLF as it is, every bare CR and bare
/// LF as CRLF (RFC 5321 §2.3.8), and a final CRLF when the last line has none. The bytes DATA carries, unstuffed.
func wireNormalized(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        if byte == 13 || byte == 10 {
            out += [13, 10]
            index += byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 ? 2 : 1
        } else {
            out.append(byte)
            index += 1
        }
    }
    if !out.isEmpty && !out.ends(with: [13, 10]) { out += [13, 10] }
    return out
}

/// Line ends on the wire (issue 15): a legacy message holding "\r.\r\n" or "\n.\n" must not end DATA early at a
/// server that takes a bare CR or LF as a line end, and smuggle the bytes after it in as commands. `DotStuffer` turns
/// every bare CR and LF into CRLF before dot-stuffing; fed one byte at a time or all at once it sends the same bytes.
@Suite struct DotStufferLineEndTests {
    /// How a lenient server might cut DATA into lines.
    enum LineReader: CaseIterable, CustomStringConvertible {
        case splitsAtLF, splitsAtCR, splitsAtEither

        var description: String {
            switch self {
            case .splitsAtLF: "splits at LF (dropping a CR before it)"
            case .splitsAtCR: "splits at CR (dropping an LF after it)"
            case .splitsAtEither: "ends a line at CRLF, CR or LF"
            }
        }

        func lines(_ bytes: [UInt8]) -> [[UInt8]] {
            switch self {
            case .splitsAtLF:
                return bytes.split(separator: 10, omittingEmptySubsequences: false)
                    .map { Array($0.last == 13 ? $0.dropLast() : $0) }
            case .splitsAtCR:
                return bytes.split(separator: 13, omittingEmptySubsequences: false)
                    .map { Array($0.first == 10 ? $0.dropFirst() : $0) }
            case .splitsAtEither:
                var lines: [[UInt8]] = [[]]
                var index = 0
                while index < bytes.count {
                    if bytes[index] == 13 || bytes[index] == 10 {
                        if bytes[index] == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 { index += 1 }
                        lines.append([])
                    } else {
                        lines[lines.count - 1].append(bytes[index])
                    }
                    index += 1
                }
                return lines
            }
        }
    }

    static func encode(_ input: [UInt8], split: Int) -> [UInt8] {
        var stuffer = DotStuffer()
        var out: [UInt8] = []
        var index = 0
        while index < input.count {
            let chunk = Array(input[index..<Swift.min(input.count, index + split)])
            chunk.withUnsafeBytes { stuffer.encode($0) { out += $0 } }
            index += split
        }
        return out + stuffer.finish()
    }

    /// The smuggling shapes and the chunk edges, with the exact wire bytes, byte by byte, in small chunks and whole.
    @Test(arguments: [1, 2, 3, 1000])
    func bareCRAndLFBecomeCRLFBeforeStuffing(split: Int) {
        let cases: [(String, String)] = [
            // The attack: a bare-CR "line" holding only a dot, then commands.
            ("a\r.\r\nMAIL FROM:<x>\r\n", "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"),
            ("a\n.\nRCPT TO:<victim>\n", "a\r\n..\r\nRCPT TO:<victim>\r\n.\r\n"),
            ("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"),
            ("a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
            ("a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n"),
            // CRLF stays one line end; a CR before a CRLF is a line end of its own.
            ("x\r\r\ny\r", "x\r\n\r\ny\r\n.\r\n"),
            ("\r", "\r\n.\r\n"),
            ("\r\r", "\r\n\r\n.\r\n"),
            ("\n\r", "\r\n\r\n.\r\n"),
            ("\r\n\r", "\r\n\r\n.\r\n"),
            (".\r", "..\r\n.\r\n"),
            ("\r.", "\r\n..\r\n.\r\n"),
            ("a\r\n", "a\r\n.\r\n"),
            ("a\r\n\n.", "a\r\n\r\n..\r\n.\r\n"),
        ]
        for (input, want) in cases {
            expectSameBytes(
                Self.encode(Array(input.utf8), split: split), Array(want.utf8),
                "\(String(reflecting: input)) split \(split)")
        }
    }

    /// Every message of up to six bytes from {a, ., CR, LF} (5,460 of them), every chunk size: the same bytes as
    /// the whole-message reference, and on the wire only the terminator is a lone "." line however a server splits
    /// lines (CRLF, or any bare CR, or any bare LF). `MessageShape.wireSize` (the SIZE of MAIL FROM) is exactly the
    /// body's unstuffed wire length.
    @Test func everyShortMessageInEveryChunkingAndSizeAgree() throws {
        let alphabet: [UInt8] = [97, 46, 13, 10]
        var inputs: [[UInt8]] = [[]]
        var layer: [[UInt8]] = [[]]
        for _ in 1...6 {
            layer = layer.flatMap { prefix in alphabet.map { prefix + [$0] } }
            inputs += layer
        }
        let dir = TempFolder("stuffer")
        defer { dir.cleanup() }
        var problems: [String] = []
        for input in inputs {
            let normalized = wireNormalized(input)
            var stuffed: [UInt8] = []
            var lineStart = true
            for byte in normalized {
                if lineStart && byte == 46 { stuffed.append(46) }
                stuffed.append(byte)
                lineStart = byte == 10
            }
            let want = stuffed + Array(".\r\n".utf8)
            for split in 1...Swift.max(1, input.count) where Self.encode(input, split: split) != want {
                problems.append("\(String(reflecting: String(decoding: input, as: UTF8.self))) split \(split)")
            }
            for reader in LineReader.allCases {
                let lines = reader.lines(want)
                if lines.indices.filter({ lines[$0] == [46] }) != [lines.count - 2] {
                    problems.append(
                        "\(String(reflecting: String(decoding: input, as: UTF8.self))): a \".\" line "
                            + "before the end for a server that \(reader)")
                }
            }
            if input.count <= 4 {
                let shape = try MessageShape.of(try makeSpool(dir, input))
                if shape.wireSize != normalized.count {
                    problems.append(
                        "\(String(reflecting: String(decoding: input, as: UTF8.self))): wireSize "
                            + "\(shape.wireSize), sent \(normalized.count)")
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.count) problems: \(problems.prefix(10))")
    }
}

/// The smuggling attempts against a scripted server (the exact bytes written) and through the real servers: Postfix
/// (SMTP, relaying into Dovecot) and Dovecot's LMTP. Each arrives as one whole message; the victim gets nothing.
@Suite(.serialized) struct SMTPSmugglingTests {
    static let arrival = Date(timeIntervalSince1970: 1_700_000_000)

    /// A message that, read with bare CR (or LF) as a line end, ends after "first line" and goes on with a second
    /// transaction for bob.
    static func smuggler(_ fakeEnd: String, id: String = UUID().uuidString) -> [UInt8] {
        sampleMessage(
            "smuggle", id: id,
            body: "first line\(fakeEnd)MAIL FROM:<attacker@evil.example>\r\n"
                + "RCPT TO:<bob@contoso.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nafter the fake dot\r\n")
    }

    static let fakeEnds = ["\r.\r\n", "\n.\n"]

    /// The DATA section as written, byte for byte: the fake end becomes "\r\n..\r\n", the rest follows as data.
    @Test(arguments: fakeEnds)
    func theWireCarriesOneMessage(fakeEnd: String) throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"), .send("250 fake\r\n"),
            .expect("MAIL FROM:<sender@wingtip.example>"), .send("250 ok\r\n"),
            .expect("RCPT TO:<alice@contoso.example>"), .send("250 ok\r\n"), .expect("DATA"), .send("354 go\r\n"),
            .run { session in
                while try session.readLine() != "." {}
                try session.send("250 ok\r\n")
            },
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("smuggle")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let message = Self.smuggler(fakeEnd, id: "fixed")
        _ = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(dir, message),
                arrival: Self.arrival, recipients: ["alice@contoso.example"]))
        delivery.close()
        server.finish()
        let want =
            Array(
                "EHLO client.test\r\nMAIL FROM:<sender@wingtip.example>\r\nRCPT TO:<alice@contoso.example>\r\n"
                    .utf8) + Array("DATA\r\n".utf8) + Self.smuggler("\r\n..\r\n", id: "fixed")
            + Array(".\r\nQUIT\r\n".utf8)
        expectSameBytes(server.transcript.plain, want, "what the client wrote")
    }

    /// Through Postfix into Dovecot: alice has exactly one message, whole (the text after the fake dot included);
    /// bob, whom the smuggled commands name, has none.
    @Test(arguments: fakeEnds)
    func throughPostfixOneWholeMessage(fakeEnd: String) throws {
        let labs = try SMTPDeliveryTests.Labs()
        let message = Self.smuggler(fakeEnd)
        let delivery = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtp, tls: .starttls,
            tlsSettings: labs.tlsSettings, timeout: 20,
            recipients: ["alice@contoso.example"])
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(labs.dir, message), arrival: Self.arrival,
                sender: "sender@wingtip.example"))
        #expect(result.complete)
        delivery.close()
        let alice = try labs.inbox("alice", expecting: 1)
        try #require(alice.count == 1, "alice: \(alice.count) messages; \(labs.postfix.logTail())")
        let sent = SMTPDeliveryTests.afterReturnPath(wireNormalized(message))
        expectSameBytes(Array(alice[0].body.suffix(sent.count)), sent, "alice's message")
        #expect(String(decoding: alice[0].body, as: UTF8.self).contains("after the fake dot\r\n"))
        #expect(try labs.dovecot.probe("bob").messages(in: "INBOX").isEmpty)
    }

    /// Into Dovecot's LMTP: the same.
    @Test(arguments: fakeEnds)
    func throughLMTPOneWholeMessage(fakeEnd: String) throws {
        let lab = try DovecotLab.start(users: ["alice": "a-pw", "bob": "b-pw"])
        defer { lab.stop() }
        let dir = TempFolder("smuggle")
        defer { dir.cleanup() }
        let message = Self.smuggler(fakeEnd)
        let delivery = LMTPDelivery.make(port: lab.ports.lmtp, timeout: 20, recipients: ["alice@contoso.example"])
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(dir, message), arrival: Self.arrival, sender: "sender@wingtip.example")
        )
        #expect(result.complete)
        delivery.close()
        let alice = try lab.probe("alice").messages(in: "INBOX")
        try #require(alice.count == 1, "alice: \(alice.count) messages")
        let sent = wireNormalized(message)
        expectSameBytes(Array(alice[0].body.suffix(sent.count)), sent, "alice's message")
        #expect(String(decoding: alice[0].body, as: UTF8.self).contains("after the fake dot\r\n"))
        #expect(try lab.probe("bob").messages(in: "INBOX").isEmpty)
    }
}

/// MAIL FROM by the target's `envelopeFrom` (issue 15): by default no bounce of a migrated message reaches an outside
/// correspondent through an SMTP relay; LMTP (final delivery) keeps the original sender.
@Suite struct EnvelopeSenderPolicyTests {
    /// A server that takes any transaction and answers every command; its transcript says what MAIL FROM was.
    static func acceptingServer() throws -> FakeServer {
        try FakeServer(
            .send("220 fake\r\n"),
            .run { session in
                while let line = try session.nextLine() {
                    if line.hasPrefix("DATA") {
                        try session.send("354 go\r\n")
                        while try session.readLine() != "." {}
                    }
                    try session.send(line == "QUIT" ? "221 bye\r\n" : "250 ok\r\n")
                    if line == "QUIT" { return }
                }
            })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var dialect: SMTPDialect
        var policy: EnvelopeSenderPolicy?
        var from: String
        var recovered: String?
        var want: String
        var testDescription: String {
            "\(dialect.rawValue) \(policy?.rawValue ?? "default") from <\(from)> recovered \(recovered ?? "none")"
        }
    }

    static let outside = "sender@wingtip.example"
    static let team = "migration@contoso.example"
    static let cases: [Case] = [
        Case(dialect: .smtp, policy: nil, from: "", recovered: outside, want: "MAIL FROM:<>"),
        Case(dialect: .smtp, policy: nil, from: team, recovered: outside, want: "MAIL FROM:<\(team)>"),
        Case(dialect: .smtp, policy: .plan, from: team, recovered: nil, want: "MAIL FROM:<\(team)>"),
        Case(dialect: .smtp, policy: .original, from: "", recovered: outside, want: "MAIL FROM:<\(outside)>"),
        Case(dialect: .smtp, policy: .original, from: team, recovered: nil, want: "MAIL FROM:<\(team)>"),
        Case(dialect: .lmtp, policy: nil, from: "", recovered: outside, want: "MAIL FROM:<\(outside)>"),
        Case(dialect: .lmtp, policy: nil, from: team, recovered: nil, want: "MAIL FROM:<\(team)>"),
        Case(dialect: .lmtp, policy: .plan, from: "", recovered: outside, want: "MAIL FROM:<>"),
        Case(dialect: .lmtp, policy: .plan, from: team, recovered: outside, want: "MAIL FROM:<\(team)>"),
    ]

    /// Through the factories a plan's targets use, default or explicit policy: the MAIL FROM line written.
    @Test(arguments: cases)
    func mailFromFollowsThePolicy(_ c: Case) throws {
        let server = try Self.acceptingServer()
        let delivery: MailTransferDelivery
        switch (c.dialect, c.policy) {
        case (.smtp, nil):
            delivery = SMTPDelivery.make(
                host: "127.0.0.1", port: server.port, tls: .none, allowPlaintext: true,
                timeout: 3, from: c.from, recipients: ["alice@contoso.example"])
        case (.smtp, let policy?):
            delivery = SMTPDelivery.make(
                host: "127.0.0.1", port: server.port, tls: .none, allowPlaintext: true,
                timeout: 3, from: c.from, envelopeFrom: policy,
                recipients: ["alice@contoso.example"])
        case (.lmtp, nil):
            delivery = LMTPDelivery.make(
                port: server.port, timeout: 3, from: c.from,
                recipients: ["alice@contoso.example"])
        case (.lmtp, let policy?):
            delivery = LMTPDelivery.make(
                port: server.port, timeout: 3, from: c.from, envelopeFrom: policy,
                recipients: ["alice@contoso.example"])
        }
        let dir = TempFolder("envelope")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        _ = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(dir, sampleMessage("x")),
                arrival: Date(), sender: c.recovered))
        delivery.close()
        server.finish()
        let mailFrom = server.transcript.plainText.split(separator: "\r\n").filter { $0.hasPrefix("MAIL FROM:") }
        // The server offers no extension: the line is MAIL FROM alone, without SIZE or BODY.
        #expect(mailFrom == [Substring(c.want)], "\(server.transcript.plainText)")
    }

    /// The plan's key: defaults per kind, explicit values, and into the delivery a run uses.
    @Test func planKeyReachesTheDelivery() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/p.json5",
            """
            {
              plan: "p",
              sources: { isp: { host: "pop.wingtip-isp.example" } },
              targets: {
                lmtpDefault: { kind: "lmtp", host: "127.0.0.1" },
                lmtpPlan: { kind: "lmtp", socket: "run/lmtp", from: "migration@contoso.example",
                            envelopeFrom: "plan" },
                smtpDefault: { kind: "smtp", host: "smtp.contoso.example" },
                smtpOriginal: { kind: "smtp", host: "smtp.contoso.example", from: "migration@contoso.example",
                                envelopeFrom: "original" },
              },
              defaults: { source: "isp", mailbox: "{user}@contoso.example" },
              mailboxes: [
                { user: "a", password: { env: "X" }, target: "lmtpDefault" },
                { user: "b", password: { env: "X" }, target: "lmtpPlan" },
                { user: "c", password: { env: "X" }, target: "smtpDefault" },
                { user: "d", password: { env: "X" }, target: "smtpOriginal" },
              ],
            }
            """)
        let plan = try PlanLoader.load(file)
        var policies: [String: EnvelopeSenderPolicy] = [:]
        for (name, target) in plan.targets {
            switch target.kind {
            case .lmtp(let lmtp): policies[name] = lmtp.envelopeFrom
            case .smtp(let smtp): policies[name] = smtp.envelopeFrom
            default: break
            }
        }
        #expect(
            policies == [
                "lmtpDefault": .original, "lmtpPlan": .plan, "smtpDefault": .plan,
                "smtpOriginal": .original,
            ])
        var settings: [String] = []
        for mailbox in plan.mailboxes {
            let delivery = try #require(
                try plan.delivery(for: mailbox, address: mailbox.address)
                    as? MailTransferDelivery)
            settings.append("\(delivery.settings.envelopeFrom.rawValue) <\(delivery.settings.defaultSender)>")
        }
        #expect(
            settings == [
                "original <>", "plan <migration@contoso.example>", "plan <>",
                "original <migration@contoso.example>",
            ])
    }

    /// A bad value is a plan problem at its place, with the choices; the key is unknown for other target kinds.
    @Test func badValuesAreProblems() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/p.json5",
            """
            {
              plan: "p",
              sources: { isp: { host: "pop.wingtip-isp.example" } },
              targets: {
                a: { kind: "smtp", host: "smtp.contoso.example", envelopeFrom: "orignal" },
                b: { kind: "lmtp", host: "127.0.0.1", envelopeFrom: true },
                c: { kind: "maildir", path: "m/{mailbox}", envelopeFrom: "plan" },
              },
              defaults: { source: "isp", target: "c", mailbox: "{user}@contoso.example" },
              mailboxes: [ { user: "a", password: { env: "X" } } ],
            }
            """)
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let lines = error?.description.split(separator: "\n").map(String.init) ?? []
        #expect(lines.count == 3, "\(lines)")
        #expect(
            lines.first?.hasPrefix(
                file + ":5:54: targets.a.envelopeFrom: unknown envelope sender policy \"orignal\"; "
                    + "use \"original\"") == true, "\(lines)")
        #expect(lines.first?.hasSuffix("(did you mean \"original\"?)") == true, "\(lines)")
        #expect(
            lines.dropFirst().first?.hasPrefix(file + ":6:43: targets.b.envelopeFrom: must be text") == true, "\(lines)"
        )
        #expect(lines.last?.hasPrefix(file + ":7:48: targets.c.envelopeFrom: unknown key") == true, "\(lines)")
    }
}
