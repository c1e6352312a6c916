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

/// The real POP3 servers of the README's interop matrix: a whole migration from the second one (GNU Mailutils
/// pop3d, mbox) through the real binary, and Dovecot's column of the matrix asserted (Mailutils' column is asserted
/// in MailutilsLabTests).
@Suite(.serialized) struct InteropTests {
    /// Dovecot's column of the README's interop matrix: CAPA before and after STLS, the UIDL format, RETR = the
    /// stored message with CRLF line ends, LIST = RETR, a second session allowed while one is open, and QUIT without
    /// DELE leaving the Maildir's messages as they were.
    @Test func dovecotMatchesTheInteropMatrix() throws {
        let lab = try DovecotLab.start(users: ["nina": "pw-nina-8"])
        defer { lab.stop() }
        let seeded = Corpus.mailbox(user: "nina", domain: "wingtip.example", count: 12, seed: 21, bigAttachment: false)
        try lab.seed(user: "nina", messages: seeded)
        let maildir = lab.maildir(of: "nina").path
        func messages() -> [String: [UInt8]] {
            var found: [String: [UInt8]] = [:]
            for folder in ["new", "cur"] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: maildir + "/" + folder)) ?? [] {
                    found[folder + "/" + name] = [UInt8](
                        FileManager.default.contents(atPath: "\(maildir)/\(folder)/\(name)")!)
                }
            }
            return found
        }
        var trace: [String] = []
        let first = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.ports.pop3, tls: .starttls,
                tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        first.trace = { trace.append($0) }
        defer { first.quit() }
        try first.connect()
        let capa = { (index: Int) -> [String] in
            let starts = trace.indices.filter { trace[$0] == "C: CAPA" }
            guard index < starts.count else { return [] }
            return Array(trace[(starts[index] + 2)...].prefix { $0 != "S: ." }.map { String($0.dropFirst(3)) })
        }
        #expect(
            capa(0) == [
                "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER",
                "SASL PLAIN LOGIN CRAM-MD5",
            ], "\(capa(0))")
        #expect(
            capa(1) == [
                "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER",
                "SASL PLAIN LOGIN CRAM-MD5",
            ], "\(capa(1))")
        #expect(first.tlsInfo != nil)
        try first.login(user: "nina", credential: .password("pw-nina-8"), allowed: [.user])
        let entries = try first.listing()
        #expect(entries.count == seeded.count)
        // `pop3_uidl_format = %08Xu%08Xv`: the UID, then the UIDVALIDITY, each as 8 lower-case hex digits.
        let hex = Set("0123456789abcdef")
        for entry in entries {
            #expect(entry.uidl.count == 16 && entry.uidl.allSatisfy(hex.contains), "UIDL \(entry.uidl)")
            #expect(entry.uidl.prefix(8) == String(format: "%08x", entry.number), "UIDL \(entry.uidl)")
        }
        #expect(Set(entries.map { $0.uidl.suffix(8) }).count == 1)
        let before = messages()
        #expect(before.count == seeded.count)

        // A second session while the first holds the maildrop: allowed (no [IN-USE]), same listing.
        let second = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
                tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        defer { second.quit() }
        try second.connect()
        try second.login(user: "nina", credential: .password("pw-nina-8"), allowed: [.user])
        #expect(try second.listing() == entries)
        second.quit()

        for (entry, message) in zip(entries, seeded) {
            var got: [UInt8] = []
            try first.retrieve(entry.number) { got.append(contentsOf: $0) }
            let served = DovecotLab.served(message)
            let same = got == served
            #expect(same, "RETR \(entry.number): \(got.count) bytes, expected \(served.count)")
            #expect(entry.size == got.count, "LIST \(entry.number)")
        }
        first.quit()
        #expect(messages() == before, "QUIT without DELE changed the Maildir's messages")
    }

    @Test(arguments: [TLSMode.starttls, .implicit])
    func migratesFromMailutilsExactlyOnce(tls: TLSMode) throws {
        let folder = TempFolder("interop")
        defer { folder.cleanup() }
        let lab = try MailutilsLab.start(users: ["alice": "alice-pw"])
        defer { lab.stop() }
        let seeded = Corpus.mailbox(user: "alice", domain: "wingtip.example", count: 50, seed: 4, bigAttachment: true)
        try lab.seed(user: "alice", messages: seeded)
        let secret = folder.file("secrets/alice", "alice-pw\n")
        let port = tls == .implicit ? lab.tlsPort! : lab.port
        let plan = folder.file(
            "jobs/interop.json5",
            """
            {
              plan: "interop",
              sources: { mu: { host: "127.0.0.1", port: \(port), tls: "\(tls.rawValue)", caFile: "\(lab.caFile.path)" } },
              targets: { box: { kind: "maildir", path: "target/{user}" } },
              mailboxes: [ { source: "mu", user: "\(lab.login(of: "alice"))", password: { file: "\(secret)" },
                             target: "box" } ],
            }
            """)
        func run() throws -> (Int32, String) {
            let child = try ChildProcess(EndToEnd.binary, ["run", plan])
            defer { child.removeOutput() }
            let code = child.wait(timeout: 120) ?? -1
            return (code, child.stdout + child.stderr)
        }
        let (first, firstOut) = try run()
        #expect(first == 0, "\(firstOut)")
        #expect(firstOut.contains("50 delivered"), "\(firstOut)")

        // What pop3d served in that first session: the seeded bytes as the lab's model says it serves them.
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.tlsPort!, tls: .implicit,
                tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        try client.connect()
        try client.login(user: lab.login(of: "alice"), credential: .password("alice-pw"), allowed: [.user])
        let uidls = try client.listing().map(\.uidl)
        client.quit()
        #expect(uidls.count == 50)
        let expected = Set(zip(seeded, uidls).map { MailutilsLab.retrieved($0, uidl: $1) })
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        let dir = workspace + "/target/\(lab.login(of: "alice"))/new"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.count == 50)
        let delivered = Set(files.map { [UInt8](FileManager.default.contents(atPath: dir + "/" + $0)!) })
        let same = delivered == expected  // (not inside #expect: megabytes on failure)
        #expect(same, "delivered bytes differ from what pop3d served")

        // pop3d rewrote its mbox at QUIT (X-UID, Status headers); UIDLs stay, so nothing is new or delivered again.
        let (second, secondOut) = try run()
        #expect(second == 0 && secondOut.contains("0 new, 0 delivered"), "\(secondOut)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 50)
    }
}
