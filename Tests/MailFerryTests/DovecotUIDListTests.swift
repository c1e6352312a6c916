import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The uidlist format (`DovecotUIDList`) and `MaildirDelivery` keeping POP3 UIDLs under Dovecot's lock, without a
/// server (POP3UIDLEndToEndTests has the real Dovecot).
@Suite struct DovecotUIDListTests {
    static let written = """
        3 V1700000000 N5 G0123456789abcdef0123456789abcdef X1
        1 G1122 :1.Mone.host,S=10,W=12
        3 W99 :3.Mthree.host,S=20
        4 P00000004abc O4 :4.Mfour.host,S=30

        """

    @Test func parsesAndRendersItUnchanged() throws {
        let list = try DovecotUIDList.parse(Array(Self.written.utf8))
        #expect(list.uidValidity == 1_700_000_000 && list.nextUID == 5)
        #expect(list.guid == "0123456789abcdef0123456789abcdef" && list.otherHeader == ["X1"])
        #expect(list.records.map(\.uid) == [1, 3, 4])
        #expect(list.records[0].value("G") == "1122" && list.records[2].value("P") == "00000004abc")
        #expect(list.record(named: "3.Mthree.host,S=20:2,S")?.uid == 3)
        #expect(String(decoding: list.render(), as: UTF8.self) == Self.written)
    }

    @Test func keepAddsRecordsInOrderAndCompletesNumberedOnes() throws {
        var list = try DovecotUIDList.parse(Array(Self.written.utf8))
        let changed = list.keep([
            ("3.Mthree.host,S=20:2,S", "legacy-3"), ("9.Mnew.mailferry,S=5", "legacy-9"),
            ("10.Mnew.mailferry,S=6", "legacy 10 bad?"),
        ])
        #expect(changed)
        // The UIDL with spaces is no RFC 1939 UIDL: that file is left for Dovecot to number.
        #expect(list.records.map(\.uid) == [1, 3, 4, 5])
        #expect(list.records[1].fields == ["W99", "Plegacy-3", "O5"])
        #expect(list.records[3].fields == ["Plegacy-9", "O6"] && list.records[3].name == "9.Mnew.mailferry,S=5")
        #expect(list.nextUID == 6)
        // Written again with the same UIDLs: nothing changes, not even the order.
        let again = list.keep([("3.Mthree.host,S=20", "legacy-3"), ("9.Mnew.mailferry,S=5", "legacy-9")])
        #expect(!again)
        // Read back as written.
        #expect(try DovecotUIDList.parse(list.render()) == list)
    }

    @Test(arguments: [
        "1 100 5\n1 a\n", "3 V0 N1\n", "3 V1 N2\n1 :a\n1 :b\n", "3 V1 N2\n1 P1 a\n", "3 V1 N2\nx :a\n",
        "3 V1 N2\n2 :d/e\n",
    ])
    func refusesWhatDovecotWouldCallBroken(_ text: String) {
        #expect(throws: DovecotUIDList.Malformed.self) { try DovecotUIDList.parse(Array(text.utf8)) }
    }

    @Test func recordableIsRFC1939() {
        #expect(DovecotUIDList.recordable("00000001abc~!"))
        #expect(!DovecotUIDList.recordable(""))
        #expect(!DovecotUIDList.recordable("a b"))
        #expect(!DovecotUIDList.recordable(String(repeating: "x", count: 71)))
        #expect(!DovecotUIDList.recordable("café"))
    }

    func spool(_ dir: TempFolder, _ text: String) throws -> SpoolFile {
        try makeSpool(dir, Array(text.utf8))
    }

    func uidlist(_ root: String) throws -> DovecotUIDList {
        try DovecotUIDList.parse([UInt8](FileManager.default.contents(atPath: root + "/dovecot-uidlist") ?? Data()))
    }

    /// Staged and single deliveries both record their UIDLs; a routed copy (no UIDL) gets no record; the lock is
    /// gone afterwards.
    @Test func deliveriesRecordTheirUIDLsAndReleaseTheLock() throws {
        let dir = TempFolder("uidlist")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let staged = try MaildirDelivery(root: root, stagingLimit: 8, keepPOP3UIDL: true)
        for number in 1...3 {
            _ = try staged.deliverMessage(
                DeliveryRequest(
                    token: "t\(number)", spool: try spool(dir, "Subject: \(number)\r\n\r\n"), arrival: Date(),
                    mayStage: true, pop3UIDL: "legacy-\(number)"))
        }
        _ = try staged.flush()
        let single = try MaildirDelivery(root: root, keepPOP3UIDL: true)
        _ = try single.deliver(
            DeliveryRequest(token: "t4", spool: try spool(dir, "x\r\n"), arrival: Date(), pop3UIDL: "legacy-4"))
        _ = try single.deliver(DeliveryRequest(token: "routed", spool: try spool(dir, "y\r\n"), arrival: Date()))
        let list = try uidlist(root)
        #expect(list.records.map { $0.value("P") ?? "" } == ["legacy-1", "legacy-2", "legacy-3", "legacy-4"])
        #expect(list.records.map { $0.value("O") ?? "" } == ["1", "2", "3", "4"])
        #expect(list.records.map(\.name) == ["t1,S=14", "t2,S=14", "t3,S=14", "t4,S=3"])
        #expect(list.uidValidity > 1_000_000_000 && list.guid.count == 32)
        #expect(!FileManager.default.fileExists(atPath: root + "/dovecot-uidlist.lock"))
        #expect(maildirFileCount(root) == 5)
        // New records are appended (same file, earlier lines untouched); a changed record rewrites the list.
        func inode() -> ino_t {
            var info = stat()
            return stat(root + "/dovecot-uidlist", &info) == 0 ? info.st_ino : 0
        }
        let before = inode()
        let text = try String(contentsOfFile: root + "/dovecot-uidlist", encoding: .utf8)
        _ = try single.deliver(
            DeliveryRequest(token: "t5", spool: try spool(dir, "z\r\n"), arrival: Date(), pop3UIDL: "legacy-5"))
        let appended = try String(contentsOfFile: root + "/dovecot-uidlist", encoding: .utf8)
        #expect(appended == text + "5 Plegacy-5 O5 :t5,S=3\n")
        #expect(inode() == before)
        _ = try single.reconcile([InDoubtAttempt(token: "routed", pop3UIDL: "late")])
        #expect(inode() == before)
        _ = try single.reconcile([InDoubtAttempt(token: "t1", pop3UIDL: "legacy-1-again")])
        let rewritten = try uidlist(root)
        #expect(rewritten.records.map(\.uid) == [1, 2, 3, 4, 5, 6])
        #expect(rewritten.records[0].fields == ["Plegacy-1-again", "O1"])
        #expect(rewritten.records[5].fields == ["Plate", "O6"] && rewritten.nextUID == 7)
        #expect(inode() != before)
        #expect(
            try String(contentsOfFile: root + "/dovecot-uidlist", encoding: .utf8).hasPrefix(
                "3 V\(rewritten.uidValidity) N7 G"))
    }

    /// A lock another process holds is waited for (the delivery lands once it is gone); one untouched for longer
    /// than Dovecot's stale time is overridden.
    @Test func waitsForAHeldLockAndOverridesAStaleOne() throws {
        let dir = TempFolder("uidlist")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root, keepPOP3UIDL: true)
        let lock = root + "/dovecot-uidlist.lock"
        #expect(FileManager.default.createFile(atPath: lock, contents: Data()))
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let message = try spool(dir, "a\r\n")
        nonisolated(unsafe) let waiting = maildir
        nonisolated(unsafe) var outcome: Result<String, any Error>?
        Thread.detachNewThread {
            outcome = Result {
                try waiting.deliver(DeliveryRequest(token: "held", spool: message, arrival: Date(), pop3UIDL: "u1"))
            }
            done.signal()
        }
        // Still waiting while the lock is there: nothing in new/ (the rename waits for the lock too).
        #expect(done.wait(timeout: .now() + 0.5) == .timedOut)
        #expect(maildirFileCount(root) == 0)
        try FileManager.default.removeItem(atPath: lock)
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect((try outcome?.get()) == "new/held,S=3")
        #expect(try uidlist(root).records.map { $0.value("P") } == ["u1"])

        #expect(FileManager.default.createFile(atPath: lock, contents: Data()))
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-(DovecotUIDListFile.staleSeconds + 5))], ofItemAtPath: lock)
        _ = try maildir.deliver(
            DeliveryRequest(token: "stale", spool: try spool(dir, "b\r\n"), arrival: Date(), pop3UIDL: "u2"))
        #expect(try uidlist(root).records.map { $0.value("P") } == ["u1", "u2"])
        #expect(!FileManager.default.fileExists(atPath: lock))
    }

    /// A uidlist that cannot be read stops the delivery before the rename: nothing lands, the lock is released.
    @Test func aBrokenUIDListRefusesBeforeTheRename() throws {
        let dir = TempFolder("uidlist")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root, keepPOP3UIDL: true)
        _ = FileManager.default.createFile(atPath: root + "/dovecot-uidlist", contents: Data("garbage\n".utf8))
        #expect {
            try maildir.deliver(
                DeliveryRequest(token: "t", spool: try spool(dir, "a\r\n"), arrival: Date(), pop3UIDL: "u"))
        } throws: { error in
            (error as? MailError)?.message.contains("dovecot-uidlist cannot be read") == true
        }
        #expect(maildirFileCount(root) == 0)
        #expect(!FileManager.default.fileExists(atPath: root + "/dovecot-uidlist.lock"))
    }

    /// A run that died after the rename, before the uidlist (and Dovecot numbered the file meanwhile, without a
    /// UIDL): `reconcile` finds the attempt and records its UIDL and order.
    @Test func reconcileRecordsTheUIDLOfAFileFoundInDoubt() throws {
        let dir = TempFolder("uidlist")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root, keepPOP3UIDL: true)
        _ = try maildir.deliver(
            DeliveryRequest(token: "early", spool: try spool(dir, "a\r\n"), arrival: Date(), pop3UIDL: "u1"))
        // The file of the attempt in doubt, in cur/ with flags; Dovecot gave it UID 7 with no P.
        _ = FileManager.default.createFile(atPath: root + "/cur/lost,S=3:2,S", contents: Data("b\r\n".utf8))
        var list = try uidlist(root)
        list.records.append(.init(uid: 7, fields: [], name: "lost,S=3"))
        list.nextUID = 8
        try Data(list.render()).write(to: URL(fileURLWithPath: root + "/dovecot-uidlist"))
        let found = try maildir.reconcile([
            InDoubtAttempt(token: "lost", pop3UIDL: "u2"), InDoubtAttempt(token: "absent", pop3UIDL: "u3"),
        ])
        #expect(found == ["lost": "cur/lost,S=3:2,S"])
        let after = try uidlist(root)
        #expect(after.records.map(\.uid) == [1, 7])
        #expect(after.records[1].fields == ["Pu2", "O2"])
        // Again (a second crash): nothing changes.
        _ = try maildir.reconcile([InDoubtAttempt(token: "lost", pop3UIDL: "u2")])
        #expect(try uidlist(root) == after)
    }

    /// The crash path only records a UIDL that is the server's own: not mailferry's keys for fingerprints,
    /// stand-ins, twins, nor a routed delivery.
    @Test func aRowInDoubtOffersOnlyTheServersOwnUIDL() {
        func row(_ uidl: String, parent: Int64? = nil) -> MessageRecord {
            MessageRecord(
                id: 1, uidl: uidl, listedSize: 1, state: .delivering, token: "t", targetRef: nil, attempts: 1,
                firstSeenAt: 0, parentID: parent)
        }
        #expect(row("00000001abcdef00").legacyUIDL == "00000001abcdef00")
        #expect(row("hdr:0123").legacyUIDL == nil)
        #expect(row("~" + String(repeating: "a", count: 40)).legacyUIDL == nil)
        #expect(row("shared#0123456789abcdef").legacyUIDL == nil)
        #expect(row("00000001abcdef00", parent: 3).legacyUIDL == nil)
    }

    /// The option is a Maildir target's; on an IMAP or LMTP target the plan is refused with the reason and the
    /// alternative, and the key is not also called unknown.
    @Test func thePlanKeepsUIDLsOnlyForMaildirTargets() throws {
        let dir = TempFolder("uidl-plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/p.json5",
            """
            {
              plan: "p",
              sources: { isp: { host: "pop.example", port: 995, tls: "implicit" } },
              targets: { dovecot: { kind: "maildir", path: "m/{mailbox}", keepPOP3UIDL: true },
                         imap: { kind: "imap", host: "imap.example", user: "admin", password: { env: "P" },
                                 keepPOP3UIDL: true },
                         lmtp: { kind: "lmtp", host: "127.0.0.1", keepPOP3UIDL: true } },
              mailboxes: [ { source: "isp", user: "a", password: { env: "A" }, target: "dovecot" } ],
            }
            """)
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let text = error?.description ?? ""
        #expect(
            text.contains(
                "targets.imap.keepPOP3UIDL: works only for a maildir target: an IMAP server offers no way to set a "
                    + "message's POP3 UIDL over the protocol"))
        #expect(text.contains("targets.lmtp.keepPOP3UIDL: works only for a maildir target: an LMTP server"))
        #expect(text.contains("(pop3_reuse_xuidl), which changes the message bytes"))
        #expect(!text.contains("unknown key"))
        #expect(!text.contains("targets.dovecot"))
        let fine = dir.file(
            "jobs/q.json5",
            """
            { plan: "q", sources: { isp: { host: "pop.example", port: 995, tls: "implicit" } },
              targets: { dovecot: { kind: "maildir", path: "m/{mailbox}", keepPOP3UIDL: true } },
              mailboxes: [ { source: "isp", user: "a", password: { env: "A" }, target: "dovecot" } ] }
            """)
        guard case .maildir(_, _, let keep)? = try PlanLoader.load(fine).targets["dovecot"]?.kind else {
            Issue.record("no maildir target")
            return
        }
        #expect(keep)
    }
}
