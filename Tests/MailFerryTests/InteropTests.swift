import Foundation
import MailFerryLab
import Testing
@testable import MailFerry

/// A whole migration from the second real POP3 server (GNU Mailutils pop3d, mbox) through the real binary.
@Suite(.serialized) struct InteropTests {
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
        let plan = folder.file("jobs/interop.json5", """
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
        let client = POP3Client(endpoint: POP3Endpoint(host: "127.0.0.1", port: lab.tlsPort!, tls: .implicit,
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
