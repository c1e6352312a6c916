import COpenSSL
import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// The fake server itself: a broken script must surface as a failed test within its timeout, never as a hang, and
/// the transcript must be what the client wrote.
@Suite struct FakeServerTests {
    @Test func aMismatchIsReportedNotHung() throws {
        let server = try FakeServer(.expect("HELLO"), .send("+OK\r\n"), timeout: 1)
        let client = try Connection.open(host: "127.0.0.1", port: server.port, timeout: 1)
        try client.write("NOPE\r\n")
        #expect(throws: MailError.self) { try client.readLine() }
        client.close()
        let started = Date()
        server.finish(reporting: false)
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(server.failures == [#"connection 1: expected "HELLO" from the client, got "NOPE""#])
    }

    @Test func noClientIsReportedAfterTheTimeout() throws {
        let server = try FakeServer(timeout: 0.3, steps: [.send("+OK\r\n")])
        server.finish(reporting: false)
        #expect(server.failures.first?.contains("no client within") == true)
    }

    /// Connections are served one after the other, each with its own transcript, including bytes written after the
    /// script ended.
    @Test func eachConnectionGetsItsOwnTranscript() throws {
        let server = try FakeServer(connections: 2) { session in
            try session.send("+OK \(session.number)\r\n")
            try session.expect("PING \(session.number)")
        }
        for number in 0..<2 {
            let client = try Connection.open(host: "127.0.0.1", port: server.port, timeout: 2)
            #expect(try client.readLine() == Array("+OK \(number)".utf8))
            try client.write("PING \(number)\r\nafter the script\r\n")
            client.close()
        }
        server.finish()
        #expect(
            server.transcripts.map(\.plainText)
                == ["PING 0\r\nafter the script\r\n", "PING 1\r\nafter the script\r\n"])
    }

    /// `.expectSilence` catches a client that sends its next command without waiting (what pipelining tests rely
    /// on), and lets a waiting client through.
    @Test func expectSilenceCatchesACommandSentAhead() throws {
        let server = try FakeServer(
            connections: 2, timeout: 2,
            steps: [
                .expect("ONE"), .expectSilence(0.3),
                .send("+OK\r\n"), .expect("TWO"),
            ])
        let eager = try Connection.open(host: "127.0.0.1", port: server.port, timeout: 2)
        try eager.write("ONE\r\nTWO\r\n")
        eager.close()
        let patient = try Connection.open(host: "127.0.0.1", port: server.port, timeout: 2)
        try patient.write("ONE\r\n")
        #expect(try patient.readLine() == Array("+OK".utf8))
        try patient.write("TWO\r\n")
        patient.close()
        server.finish(reporting: false)
        #expect(server.failures == [#"connection 1: the client sent "TWO\r\n" without waiting for the reply"#])
    }

    /// An old server really is old: a client that accepts anything (TLS 1.0 up, security level 0) negotiates exactly
    /// the capped version, so a refusal by mailferry's client is its TLS 1.2 floor at work, not a broken fake.
    @Test(arguments: FakeTLSVersion.allCases)
    func cappedServerSpeaksExactlyThatVersion(version: FakeTLSVersion) throws {
        let server = try FakeServer(.startTLS(.good, upTo: version), .send("+OK old\r\n"))
        defer { server.finish() }
        let socket = try Socket.connect(host: "127.0.0.1", port: server.port, timeout: 5)
        defer { socket.close() }
        let context = try #require(SSL_CTX_new(TLS_client_method()))
        defer { SSL_CTX_free(context) }
        #expect(SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_VERSION), nil) == 1)
        #expect(SSL_CTX_set_cipher_list(context, "DEFAULT:@SECLEVEL=0") == 1)
        let ssl = try #require(SSL_new(context))
        defer { SSL_free(ssl) }
        SSL_set_fd(ssl, socket.fd)
        #expect(SSL_connect(ssl) == 1)
        #expect(SSL_get_version(ssl).map { String(cString: $0) } == version.rawValue)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = SSL_read(ssl, &buffer, Int32(buffer.count))
        #expect(n > 0 && Array(buffer[..<Int(max(0, n))]) == Array("+OK old\r\n".utf8))
        _ = SSL_shutdown(ssl)
    }
}
