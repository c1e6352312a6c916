import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A spool file holding exactly `bytes`, as the runner would hand it to a delivery.
func makeSpool(_ dir: TempFolder, _ bytes: [UInt8]) throws -> SpoolFile {
    let spool = try SpoolFile(path: dir.path + "/spool-\(UUID().uuidString)")
    try bytes.withUnsafeBytes { try spool.append($0) }
    try spool.finish()
    return spool
}

/// One message as a test reads it back from the target server.
struct StoredMessage {
    var uid: UInt32
    var flags: [String]
    var internalDate: String
    var body: [UInt8]
}

/// An independent, minimal IMAP reader for checking what a delivery stored: plain TCP on 127.0.0.1 (Dovecot allows
/// LOGIN there, client and server share an address), exact literal reading, FETCH BODY.PEEK[]. It shares no code
/// with the client under test, so the two cannot agree on a mistake.
final class IMAPProbe {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var tag = 0

    init(port: Int, user: String, password: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw FakeServerError("probe: cannot connect to \(port)") }
        _ = try line()
        let reply = try run("LOGIN \"\(user)\" \"\(password)\"")
        guard reply.last?.contains(" OK") == true else { throw FakeServerError("probe: login failed: \(reply)") }
    }

    deinit { close(fd) }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw FakeServerError("probe: connection closed or timed out") }
        buffer += chunk[0..<n]
    }

    private func line() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                let text = String(decoding: buffer[..<lf].filter { $0 != 13 }, as: UTF8.self)
                buffer.removeSubrange(...lf)
                return text
            }
            try fill()
        }
    }

    private func exact(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return bytes
    }

    /// Sends one command; returns its response lines (literals as "{n}" followed by their bytes in `literals`).
    @discardableResult
    func run(_ command: String, literals: inout [[UInt8]]) throws -> [String] {
        tag += 1
        let t = "p\(tag)"
        _ = "\(t) \(command)\r\n".withCString { send(fd, $0, strlen($0), 0) }
        var lines: [String] = []
        for _ in 0..<100_000 {
            var text = try line()
            while text.hasSuffix("}"), let open = text.lastIndex(of: "{"),
                let size = Int(text[text.index(after: open)..<text.index(before: text.endIndex)])
            {
                literals.append(try exact(size))
                text += try line()
            }
            lines.append(text)
            if text.hasPrefix("\(t) ") { return lines }
        }
        throw FakeServerError("probe: no end to \(command)")
    }

    @discardableResult
    func run(_ command: String) throws -> [String] {
        var literals: [[UInt8]] = []
        return try run(command, literals: &literals)
    }

    /// APPENDs `message` to `folder` byte for byte (a non-synchronizing literal, LITERAL+); returns the response.
    @discardableResult
    func append(_ message: [UInt8], to folder: String = "INBOX") throws -> [String] {
        tag += 1
        let t = "p\(tag)"
        let bytes = Array("\(t) APPEND \"\(folder)\" {\(message.count)+}\r\n".utf8) + message + Array("\r\n".utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw FakeServerError("probe: cannot send the APPEND") }
            sent += n
        }
        var lines: [String] = []
        for _ in 0..<1000 {
            let text = try line()
            lines.append(text)
            if text.hasPrefix("\(t) ") { return lines }
        }
        throw FakeServerError("probe: no end to the APPEND")
    }

    /// Every message of `folder` (raw IMAP name), in UID order.
    func messages(in folder: String) throws -> [StoredMessage] {
        let select = try run("EXAMINE \"\(folder)\"")
        guard select.last?.contains(" OK") == true else { throw FakeServerError("probe: EXAMINE failed: \(select)") }
        var literals: [[UInt8]] = []
        let lines = try run("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])", literals: &literals)
        var result: [StoredMessage] = []
        for text in lines where text.hasPrefix("* ") && text.contains(" FETCH ") {
            func after(_ key: String) -> Substring? {
                text.range(of: key).map { text[$0.upperBound...] }
            }
            let uid = UInt32(after("UID ")?.prefix { $0.isNumber } ?? "") ?? 0
            let flags = after("FLAGS (")?.prefix { $0 != ")" }.split(separator: " ").map(String.init) ?? []
            let date = after("INTERNALDATE \"")?.prefix { $0 != "\"" } ?? ""
            result.append(
                StoredMessage(
                    uid: uid, flags: flags, internalDate: String(date),
                    body: literals.isEmpty ? [] : literals.removeFirst()))
        }
        return result.sorted { $0.uid < $1.uid }
    }

    func folders() throws -> [String] {
        try run("LIST \"\" \"*\"").filter { $0.hasPrefix("* LIST") }.compactMap { line in
            line.split(separator: " ").last.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
    }

    func logout() { _ = try? run("LOGOUT") }
}

extension DovecotLab {
    /// A probe logged in to `user`'s mailbox with the master credential.
    func probe(_ user: String) throws -> IMAPProbe {
        try IMAPProbe(port: ports.imap, user: "\(user)*\(DovecotLab.masterUser)", password: DovecotLab.masterPassword)
    }

    var tlsSettings: TLSSettings { TLSSettings(caFile: caFile.path) }
}

/// A small, realistic message with CRLF line ends.
func sampleMessage(
    _ subject: String, id: String = UUID().uuidString, body: String = "Hello.\r\n",
    extraHeaders: String = ""
) -> [UInt8] {
    Array(
        ("Return-Path: <sender@wingtip.example>\r\nMessage-ID: <\(id)@wingtip.example>\r\n"
            + "From: Sender <sender@wingtip.example>\r\nTo: someone@contoso.example\r\nSubject: \(subject)\r\n"
            + "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\(extraHeaders)\r\n\(body)").utf8)
}

extension DovecotLab {
    /// The files Dovecot stored for `user` in `folder` ("INBOX" or the Maildir++ name such as "Legacy.Archive"), in
    /// UID order (from dovecot-uidlist): the exact bytes on disk, which IMAP FETCH would show with bare LFs turned to
    /// CRLF.
    func storedFiles(_ user: String, folder: String = "INBOX") throws -> [(name: String, bytes: [UInt8])] {
        let root = maildir(of: user).path + (folder == "INBOX" ? "" : "/.\(folder)")
        let uidlist = try String(contentsOfFile: root + "/dovecot-uidlist", encoding: .utf8)
        var present: [String: String] = [:]
        for sub in ["new", "cur"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(sub)") {
                present[String(name.prefix { $0 != ":" })] = "\(sub)/\(name)"
            }
        }
        var files: [(UInt32, String)] = []
        for line in uidlist.split(separator: "\n").dropFirst() {
            guard let uid = UInt32(line.prefix { $0 != " " }), let colon = line.range(of: " :") else { continue }
            let base = String(line[colon.upperBound...]).prefix { $0 != ":" }
            if let path = present[String(base)] { files.append((uid, path)) }
        }
        return try files.sorted { $0.0 < $1.0 }.map { entry in
            let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + entry.1))
            return (entry.1, [UInt8](data))
        }
    }
}

/// Compares bytes and, when they differ, says where in a few lines instead of printing both arrays.
func expectSameBytes(
    _ got: [UInt8], _ want: [UInt8], _ what: String = "bytes",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard got != want else { return }
    let index = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    func around(_ bytes: [UInt8]) -> String {
        String(reflecting: String(decoding: bytes[max(0, index - 20)..<min(bytes.count, index + 20)], as: UTF8.self))
    }
    let text =
        "\(what) differ at offset \(index) (got \(got.count) bytes, want \(want.count)): got \(around(got)), "
        + "want \(around(want))"
    Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
}

/// `bytes` with every bare LF turned into CRLF: how an IMAP server shows a message (FETCH BODY[]).
func crlfNormalized(_ bytes: [UInt8]) -> [UInt8] {
    DovecotLab.served(bytes)
}

/// `bytes` with CRLF turned into LF: how Dovecot writes an appended message to disk (`mail_save_crlf = no`).
func lfNormalized(_ bytes: [UInt8]) -> [UInt8] {
    DovecotLab.stored(bytes)
}
