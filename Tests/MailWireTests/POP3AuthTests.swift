import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

@Suite struct POP3AuthTests {
    @Test func legacyDigestsMatchTheRFCExamples() {
        // RFC 1939 §7, APOP example.
        #expect(
            LegacyDigest.md5Hex(Array("<1896.697170952@dbc.mtview.ca.us>tanstaaf".utf8))
                == "c4c9334bac560ecc979e58001b3e22fb")
        // RFC 2195 §2, CRAM-MD5 example.
        #expect(
            LegacyDigest.hmacMD5Hex(
                key: Array("tanstaaftanstaaf".utf8),
                data: Array("<1896.697170952@postoffice.reston.mci.net>".utf8))
                == "b913a602c7eda7a495b4e6e7334d3890")
    }

    /// Every password method against a real Dovecot that offers them all: the client uses exactly the one the
    /// plan allows, logs in, and reads the same messages.
    @Test(arguments: [POP3AuthMethod.cramMD5, .apop, .plain, .login, .user])
    func eachMethodLogsInToDovecot(method: POP3AuthMethod) throws {
        let lab = try DovecotLab.start(users: ["ivy": "ivy-secret"])
        defer { lab.stop() }
        try lab.seed(
            user: "ivy",
            messages: Corpus.mailbox(
                user: "ivy", domain: "example.com", count: 3, seed: 9,
                bigAttachment: false))
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
                tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        var transcript: [String] = []
        client.trace = { transcript.append($0) }
        defer { client.quit() }
        try client.connect()
        let used = try client.login(user: "ivy", credential: .password("ivy-secret"), allowed: [method])
        #expect(used == method)
        #expect(try client.listing().count == 3)
        #expect(!transcript.joined(separator: "\n").contains("ivy-secret"))
    }

    @Test func strongestOfferedMethodWinsAndWrongPasswordStops() throws {
        let lab = try DovecotLab.start(users: ["jay": "jay-secret"])
        defer { lab.stop() }
        let endpoint = ServerEndpoint(
            host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
            tlsSettings: TLSSettings(caFile: lab.caFile.path))
        let client = POP3Client(endpoint: endpoint)
        defer { client.quit() }
        try client.connect()
        #expect(try client.login(user: "jay", credential: .password("jay-secret")) == .cramMD5)

        let wrong = POP3Client(endpoint: endpoint)
        var transcript: [String] = []
        wrong.trace = { transcript.append($0) }
        defer { wrong.quit() }
        try wrong.connect()
        let error = #expect(throws: MailError.self) {
            try wrong.login(user: "jay", credential: .password("not-it"))
        }
        #expect(error?.kind == .auth)
        // One refused credential is not retried with the next method (no lockouts).
        #expect(
            transcript.filter { $0.hasPrefix("C: AUTH") || $0.hasPrefix("C: APOP") || $0.hasPrefix("C: USER") }
                .count == 1, "\(transcript)")
    }

    @Test func tokenWithoutAnOAuthMechanismIsAClearError() throws {
        let lab = try DovecotLab.start(users: ["kim": "kim-secret"])
        defer { lab.stop() }
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
                tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        defer { client.quit() }
        try client.connect()
        let error = #expect(throws: MailError.self) {
            try client.login(user: "kim", credential: .token("tok"), allowed: [.xoauth2, .oauthbearer])
        }
        #expect(error?.kind == .auth)
        #expect(error?.message.contains("no usable login method") == true, "\(error?.message ?? "")")
    }
}
