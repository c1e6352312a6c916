import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// The line reader over a real socket pair: lines split anywhere, bounded length, bodies then replies.
@Suite struct ConnectionTests {
    /// A Connection reading what `peer` writes.
    func pair() -> (Connection, Int32) {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let socket = Socket(fd: fds[0], peer: "test")
        socket.setTimeout(2)
        return (Connection(socket: socket), fds[1])
    }

    func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
    }

    @Test func readsLinesAndBodyFromOneBuffer() throws {
        let (connection, peer) = pair()
        defer { close(peer) }
        send(peer, "+OK ready\r\n+OK 2 octets\r\nhi\r\n..\r\n.\r\n+OK bye\r\n")
        #expect(try connection.readLine() == Array("+OK ready".utf8))
        #expect(try connection.readLine() == Array("+OK 2 octets".utf8))
        var body: [UInt8] = []
        try connection.readDotBody { body.append(contentsOf: $0) }
        #expect(body == Array("hi\r\n.\r\n".utf8))
        #expect(try connection.readLine() == Array("+OK bye".utf8))
        #expect(connection.bufferedCount == 0)
    }

    @Test func rejectsOverlongLines() throws {
        let (connection, peer) = pair()
        defer { close(peer) }
        connection.maxLineLength = 1000
        send(peer, String(repeating: "x", count: 5000) + "\r\n")
        let error = #expect(throws: MailError.self) { _ = try connection.readLine().count }
        #expect(error?.kind == .protocol)
    }

    @Test func endOfStreamIsAnError() throws {
        let (connection, peer) = pair()
        send(peer, "+OK partial")
        close(peer)
        let error = #expect(throws: MailError.self) { try connection.readLine() }
        #expect(error?.kind == .transient)
    }

    @Test func silenceTimesOut() throws {
        let (connection, peer) = pair()
        defer { close(peer) }
        connection.setTimeout(0.2)
        let started = Date()
        let error = #expect(throws: MailError.self) { try connection.readLine() }
        #expect(error?.message.contains("timed out") == true)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func bytesBeforeTLSAreRefused() throws {
        let (connection, peer) = pair()
        defer { close(peer) }
        // "+OK begin TLS" followed at once by an injected reply, in one packet.
        send(peer, "+OK begin TLS\r\n+OK injected\r\n")
        _ = try connection.readLine()
        let error = #expect(throws: MailError.self) {
            try connection.upgradeToTLS(host: "127.0.0.1", settings: TLSSettings())
        }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("injection") == true)
    }
}
