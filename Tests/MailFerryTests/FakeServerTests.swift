import Foundation
import Testing
@testable import MailFerry

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
        #expect(server.transcripts.map(\.plainText)
            == ["PING 0\r\nafter the script\r\n", "PING 1\r\nafter the script\r\n"])
    }
}
