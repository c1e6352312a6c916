import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// What happens when a POP3 server refuses a login method (SECURITY.md "Login methods"), against scripted servers
/// that behave like solid-pop3d and popa3d: a refused APOP is answered -ERR and the connection is closed.
@Suite(.serialized) struct POP3LoginMethodTests {
    /// The RFC 1939 §7 example timestamp: its presence in the greeting offers APOP.
    static let timestamp = "<1896.697170952@dbc.mailcom.com>"

    static func apopLine(user: String, password: String) -> String {
        "APOP \(user) " + LegacyDigest.md5Hex(Array((timestamp + password).utf8))
    }

    /// Greeting with the timestamp, CAPA offering USER: APOP and USER/PASS both possible.
    static let plainGreeting: [FakeStep] = [
        .send("+OK solid-pop3d ready \(timestamp)\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
    ]

    /// The first connection of a solid-pop3d-like server: the APOP digest arrives, -ERR (no response code), hang up.
    static func refuseAPOPAndHangUp(
        _ session: FakeSession, user: String = "u", password: String = "pw",
        reply: String = "-ERR authentication failed"
    ) throws {
        try session.expect(apopLine(user: user, password: password))
        try session.send(reply + "\r\n")
        session.close()
    }

    /// Which credential-bearing commands the client sent on one connection.
    static func credentials(_ transcript: FakeTranscript) -> [String] {
        (transcript.plainText + transcript.securedText).components(separatedBy: "\r\n").compactMap { line in
            ["APOP ", "USER ", "PASS ", "AUTH "].first { line.hasPrefix($0) }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// A plan for the fake server without TLS; `auth` nil leaves the source's auth list unwritten (the default).
    static func setup(port: Int, auth: String?) -> POP3RunnerBehaviourTests.Setup {
        let folder = TempFolder("login-methods")
        let secret = folder.file("secrets/pw", "pw\n")
        let planFile = folder.file(
            "jobs/fake.json5",
            """
            {
              plan: "fake",
              sources: { old: { host: "127.0.0.1", port: \(port), tls: "none", allowPlaintext: true,
                                timeoutSeconds: 5 \(auth.map { ", auth: \($0)" } ?? "") } },
              targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [ { source: "old", user: "u", password: { file: "\(secret)" }, target: "box" } ],
            }
            """)
        return POP3RunnerBehaviourTests.Setup(planFile: planFile, folder: folder)
    }

    /// Without TLS but with `auth: ["apop", "user"]` written in the plan: the refused APOP's connection is dropped,
    /// a second one logs in with USER/PASS and the messages are migrated. One credential per connection.
    @Test func refusedAPOPReconnectsForUSERWhenThePlanNamesIt() throws {
        let server = try FakeServer(connections: 2) { session in
            for step in Self.plainGreeting { try session.run(step) }
            if session.number == 0 {
                try Self.refuseAPOPAndHangUp(session)
                return
            }
            for step in [FakeStep.expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"), .send("+OK in\r\n")]
                + POP3RunnerBehaviourTests.listing(uidl: "1 A\r\n2 B") + POP3RunnerBehaviourTests.retrieval
            {
                try session.run(step)
            }
        }
        let setup = Self.setup(port: server.port, auth: #"["apop", "user"]"#)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.error == nil && result.delivered == 2 && result.authMethod == "user", "\(result)")
        #expect(server.transcripts.map(Self.credentials) == [["APOP"], ["USER", "PASS"]])
        #expect(
            setup.fileContents() == [POP3RunnerBehaviourTests.message1, POP3RunnerBehaviourTests.message2].sorted())
    }

    /// Under TLS (STARTTLS) the fallback needs no naming in the plan; it still goes down a fresh connection.
    @Test func refusedAPOPReconnectsForUSERUnderTLS() throws {
        let server = try FakeServer(connections: 2) { session in
            for step in [FakeStep.send("+OK ready \(Self.timestamp)\r\n")] + POP3Script.capa("STLS", "USER", "UIDL")
                + [.expect("STLS"), .send("+OK begin TLS\r\n"), .startTLS(.good)] + POP3Script.capa("USER", "UIDL")
            {
                try session.run(step)
            }
            if session.number == 0 {
                try Self.refuseAPOPAndHangUp(session, user: POP3Script.user, password: POP3Script.password)
                return
            }
            for step in POP3Script.login + POP3Script.quit { try session.run(step) }
        }
        let client = POP3Client(endpoint: try server.endpoint(tls: .starttls))
        try client.connect()
        let method = try client.login(
            user: POP3Script.user, credential: .password(POP3Script.password),
            allowed: [.apop, .user])
        client.quit()
        server.finish()
        #expect(method == .user && client.reconnections == 1)
        #expect(server.transcripts.map(Self.credentials) == [["APOP"], ["USER", "PASS"]])
        #expect(server.transcripts.allSatisfy { !$0.plainText.contains("PASS") && !$0.plainText.contains("APOP") })
    }

    /// Without TLS and with the default auth list, a refused APOP does not fall back to sending the password in
    /// clear; the error says how to allow it. Only one connection, only the APOP digest was sent.
    @Test func refusedAPOPOverPlaintextDoesNotFallBackToUSERByDefault() throws {
        let server = try FakeServer(connections: 1) { session in
            for step in Self.plainGreeting { try session.run(step) }
            try Self.refuseAPOPAndHangUp(session)
        }
        let setup = Self.setup(port: server.port, auth: nil)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.errorKind == .auth, "\(result)")
        let error = result.error ?? ""
        #expect(
            error.contains(
                "APOP login as u refused: authentication failed; not falling back to USER/PASS, "
                    + "which would send the password in clear over this unencrypted connection (to allow "
                    + "it, name it in the source's auth, e.g. auth: [\"apop\", \"user\"], or use TLS)"),
            "\(error)")
        #expect(server.transcripts.count == 1 && Self.credentials(server.transcript) == ["APOP"])
        #expect(!server.transcript.contains("PASS") && !server.transcript.contains("USER"))
    }

    /// A refusal that blames the credential ([AUTH], RFC 3206) is not tried again another way, even where the
    /// fallback is allowed: that would count twice towards an account lockout.
    @Test func refusedCredentialIsNotRetriedWithAnotherMethod() throws {
        let server = try FakeServer(connections: 1) { session in
            for step in Self.plainGreeting { try session.run(step) }
            try Self.refuseAPOPAndHangUp(session, reply: "-ERR [AUTH] wrong password")
        }
        let setup = Self.setup(port: server.port, auth: #"["apop", "user"]"#)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.errorKind == .auth && result.error?.contains("[AUTH] wrong password") == true, "\(result)")
        #expect(server.transcripts.count == 1 && Self.credentials(server.transcript) == ["APOP"])
    }
}
