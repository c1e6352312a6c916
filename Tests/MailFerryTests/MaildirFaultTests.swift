import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A disk that lies: a failing fsync, close or rename on the Maildir path (`FaultPoint`, EIO) never lets a message
/// count as delivered unless its file is durably in new/. Before the rename the delivery is refused and tmp/ is
/// left clean; after it (the sync of new/) the attempt is in doubt, its file named, and `reconcile` answers for it.
@Suite struct MaildirFaultTests {
    static let small = "Subject: durable\r\n\r\nbody\r\n"
    /// Past the spool's write buffer: on disk, handed over into tmp/ by a rename instead of copied.
    static let big = "Subject: big\r\n\r\n" + String(repeating: "0123456789abcdef\r\n", count: 20_000)

    func names(_ root: String, _ sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + sub)) ?? []).sorted()
    }

    /// fsync of the file, its close, and the rename fail before the message is visible: the delivery throws
    /// (`.local`, so the runner defers it), nothing is in new/, tmp/ is clean, and a second attempt lands it once.
    @Test(arguments: ["maildir-fsync-file", "maildir-close-file", "maildir-rename"], [small, big])
    func aFailureBeforeTheRenameRefusesTheDelivery(point: String, text: String) throws {
        let dir = TempFolder("maildir-fault")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root)
        let fault = FaultPoint(point)
        maildir.fault = fault
        let name = "1.Mfault.mailferry,S=\(text.utf8.count)"
        let error = #expect(throws: MailError.self) {
            try maildir.deliver(
                DeliveryRequest(
                    token: "1.Mfault.mailferry",
                    spool: try makeSpool(dir, Array(text.utf8)), arrival: Date()))
        }
        #expect(fault.fired)
        #expect(error?.kind == .local && error?.code != .inDoubt, "\(String(describing: error))")
        #expect(error?.message.contains("Input/output error") == true, "\(String(describing: error))")
        #expect(names(root, "new").isEmpty && names(root, "tmp").isEmpty && names(root, "cur").isEmpty)
        // The fault fired once: the next attempt (the runner's retry) lands the message, once.
        let ref = try maildir.deliver(
            DeliveryRequest(
                token: "1.Mfault.mailferry",
                spool: try makeSpool(dir, Array(text.utf8)), arrival: Date()))
        #expect(ref == "new/" + name)
        #expect(names(root, "new") == [name] && names(root, "tmp").isEmpty)
        #expect(FileManager.default.contents(atPath: root + "/" + ref) == Data(text.utf8))
    }

    /// The sync of new/ fails after the rename: the file is in new/ but perhaps not durably. The delivery throws an
    /// in-doubt error naming the file (the runner keeps the row "delivering"), and `reconcile` finds it, syncing
    /// new/ before it answers.
    @Test func aFailedSyncOfNewLeavesTheAttemptInDoubtAndNamed() throws {
        let dir = TempFolder("maildir-fault")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root)
        maildir.fault = FaultPoint("maildir-fsync-new")
        let name = "2.Mfault.mailferry,S=\(Self.small.utf8.count)"
        let error = #expect(throws: MailError.self) {
            try maildir.deliver(
                DeliveryRequest(
                    token: "2.Mfault.mailferry",
                    spool: try makeSpool(dir, Array(Self.small.utf8)), arrival: Date()))
        }
        #expect(error?.code == .inDoubt, "\(String(describing: error))")
        #expect(error?.message.contains("new/" + name) == true, "\(String(describing: error))")
        #expect(names(root, "new") == [name] && names(root, "tmp").isEmpty)
        let found = try maildir.reconcile([InDoubtAttempt(token: "2.Mfault.mailferry")])
        #expect(found == ["2.Mfault.mailferry": "new/" + name])
    }

    /// `reconcile` answers for a file only once its folder is synced: a failing sync leaves the attempt in doubt.
    @Test func reconcileDoesNotAnswerWhenItCannotSync() throws {
        let dir = TempFolder("maildir-fault")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root)
        _ = try maildir.deliver(
            DeliveryRequest(
                token: "3.Mfault.mailferry",
                spool: try makeSpool(dir, Array(Self.small.utf8)), arrival: Date()))
        maildir.fault = FaultPoint("maildir-fsync-new")
        #expect(throws: MailError.self) { try maildir.reconcile([InDoubtAttempt(token: "3.Mfault.mailferry")]) }
    }

    /// A run's staged batch: any failing call in the flush throws, so every message of the batch stays in doubt
    /// (the runner keeps their rows "delivering"); a failed sync of a file or a close renames nothing.
    @Test(arguments: [
        ("maildir-fsync-file", 2), ("maildir-close-file", 5), ("maildir-rename", 2),
        ("maildir-fsync-new", 1),
    ])
    func aFailingFlushLeavesTheBatchInDoubt(point: String, hit: Int) throws {
        let dir = TempFolder("maildir-fault")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root, stagingLimit: 8)
        maildir.fault = FaultPoint(point, hit: hit)
        var tokens: [String] = []
        for index in 1...3 {
            let token = "\(index).Mbatch.mailferry"
            tokens.append(token)
            let result = try maildir.deliverMessage(
                DeliveryRequest(
                    token: token, spool: try makeSpool(dir, Array("Subject: \(index)\r\n\r\nbody\r\n".utf8)),
                    arrival: Date(), mayStage: true))
            #expect(result.staged)
        }
        // (Three writes closed their files: the flush's closes are hits 4 to 6.)
        #expect(names(root, "new").isEmpty)
        #expect(throws: MailError.self) { try maildir.flush() }
        switch point {
        case "maildir-fsync-file", "maildir-close-file":
            #expect(names(root, "new").isEmpty, "\(point)")
        case "maildir-rename":
            #expect(names(root, "new").count == 1, "\(point)")
        default:
            #expect(names(root, "new").count == 3, "\(point)")
        }
        // The next run's reconciliation: what is in new/ is answered for, the rest is cleared from tmp/ and is
        // delivered again.
        let found = try maildir.reconcile(tokens.map { InDoubtAttempt(token: $0) })
        #expect(found.count == names(root, "new").count && names(root, "tmp").isEmpty, "\(point)")
    }
}

/// The same faults in a real run: the `mailferry` binary against the Dovecot lab's POP3, `MAILFERRY_FAIL_AT` making
/// one named call fail once. After the run no row is "delivered" whose file is not durably in new/ (rows checked
/// against files); the next run, without the fault, delivers every message exactly once.
@Suite(.serialized) struct MaildirFaultEndToEndTests {
    @Test(arguments: [
        ("maildir-fsync-new", 1), ("maildir-fsync-file", 3), ("maildir-close-file", 3),
        ("maildir-fsync-folder", 1), ("maildir-fsync-folder", 3),
    ])
    func aFailingCallThenRerun(point: String, hit: Int) throws {
        let e2e = try EndToEnd("e2e-fault", counts: ["erin": 12])
        let failed = try e2e.run(environment: ["MAILFERRY_FAIL_AT": "\(point)@\(hit)"])
        #expect(failed.code == 1, "\(point): \(failed.out) \(failed.err)")
        #expect(failed.out.contains("Input/output error"), "\(point): \(failed.out)")
        let rows = try e2e.rows("erin")
        let delivered = rows.filter { $0.state == "delivered" }
        let inDoubt = rows.filter { $0.state == "delivering" }.count
        let files = e2e.deliveredFiles("erin")
        print("\(point)@\(hit): \(delivered.count) delivered, \(inDoubt) in doubt, \(files.count) files")
        // Every delivered row has its file (and every file its row: none unknown to the next run).
        for row in delivered {
            #expect(row.ref.map { files[$0] != nil } == true, "\(point): \(row.uidl) delivered without its file")
        }
        #expect(files.count <= delivered.count + inDoubt, "\(point)")
        #expect(delivered.count < 12, "\(point)")
        switch point {
        case "maildir-fsync-new":
            // The first batch was renamed into new/, whose sync then failed: visible, not durable, so not one of
            // its rows is delivered; they are in doubt.
            #expect(delivered.isEmpty && !files.isEmpty && inDoubt >= files.count, "\(point): \(files.count)")
        case "maildir-fsync-file":
            // The failing batch renamed nothing: every file visible is one of an earlier batch, delivered.
            #expect(files.count == delivered.count, "\(point)")
        case "maildir-fsync-folder":
            // A folder created for the Maildir (the target root, or the mailbox's folder, tmp/, new/ or cur/)
            // could not be synced into its parent: removed again, the first message deferred, nothing delivered.
            #expect(delivered.isEmpty && files.isEmpty, "\(point)")
            #expect(rows.filter { $0.state == "deferred" }.count == 1, "\(point)")
        default:
            // The third message's file could not be closed: refused (deferred, to be tried again), the mailbox
            // stopped, the two before it flushed and delivered.
            #expect(files.count == delivered.count && delivered.count == 2, "\(point): \(delivered.count)")
            #expect(rows.filter { $0.state == "deferred" }.count == 1, "\(point)")
        }
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(point): \(rerun.out)\n\(rerun.err)")
        try e2e.expectExactlyOnce("erin")
        let report = try e2e.lastReport()
        #expect(report.reconciled == files.count - delivered.count, "\(point)")
        #expect(report.delivered == 12 - files.count, "\(point)")
    }
}
