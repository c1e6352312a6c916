import Foundation
import Glibc
import MailFerryLab
import Synchronization
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Whole migrations into IMAP (an admin acting for each mailbox) and LMTP targets on a real Dovecot, through the
/// real binary, including crashes.
@Suite(.serialized) struct TargetEndToEndTests {
    @Test(arguments: [EndToEnd.Kind.imap, .lmtp])
    func migratesIntoServerTargetsExactlyOnce(kind: EndToEnd.Kind) throws {
        let e2e = try EndToEnd(
            "e2e-\(kind.rawValue)", counts: ["alice": 60, "bob": 60], bigAttachmentFor: "bob",
            kind: kind)
        let first = try e2e.run()
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        for user in ["alice", "bob"] { try e2e.expectExactlyOnce(user) }
        let second = try e2e.run()
        #expect(second.code == 0 && second.out.contains("0 messages delivered"), "\(second.out)")
        #expect(e2e.deliveredCount() == 120)
        // The arrival date recovered from the trace headers is the stored message's received date (IMAP
        // INTERNALDATE; Dovecot keeps it as the file's mtime).
        if kind == .imap {
            let db = try Database(path: e2e.statePath)
            let arrivals = try db.prepare("SELECT envelope FROM messages WHERE envelope IS NOT NULL").rows {
                $0.text(0) ?? ""
            }.compactMap { json -> Double? in
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                return (try? decoder.decode(StoredEnvelope.self, from: Data(json.utf8)))?.envelope.arrival
                    .timeIntervalSince1970
            }
            #expect(arrivals.count == 120)
            var mtimes: [Double] = []
            for sub in ["new", "cur"] {
                let dir = e2e.targetMaildir("alice") + "/" + sub
                for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                    let date = try FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.modificationDate]
                    mtimes.append((date as? Date)?.timeIntervalSince1970 ?? 0)
                }
            }
            #expect(mtimes.count == 60)
            let arrivalSet = Set(arrivals.map { Int($0) })
            #expect(mtimes.allSatisfy { arrivalSet.contains(Int($0)) }, "INTERNALDATE is not the recovered arrival")
        }
    }

    /// Each crash point into IMAP, hit three times in three runs: in-doubt appends are found by Message-ID (or Date)
    /// and size, not appended twice. A run pipelines the APPENDs of searchable messages (up to 16 on the wire, their
    /// answers read together) and commits each "delivered" checkpoint once its answer is read, so a kill leaves
    /// several messages in doubt: some stored by the server, some not. What it left is read off the state and the
    /// folder: every delivered row's message is in the folder, and the folder holds nothing but delivered or
    /// in-doubt messages; the point's own message is in the folder exactly when the server acknowledged it. The
    /// rerun finds every message of the folder not yet recorded (reconciled) and delivers the rest, once: what was in
    /// doubt and is not in the folder only after the settle window (a rerun at once holds it, and says so).
    @Test(arguments: ["after-retr", "after-delivering-commit", "imap-append-literal", "after-target-ack"])
    func imapCrashPointThenRerun(point: String) throws {
        let count = 60
        let e2e = try EndToEnd("e2e-imapcrash", counts: ["erin": count], kind: .imap)
        var delivered = 0
        var inFolder = 0
        // Acknowledgements come a pipeline (up to 16) at a time: the early ones leave messages for later runs.
        for hit in point == "after-target-ack" ? [1, 2, 3] : [3, 7, 12] {
            let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "\(point)@\(hit)"])
            #expect(crashed.code == 128 + SIGKILL, "\(point)@\(hit): \(crashed.out) \(crashed.err)")
            let rows = try e2e.rows("erin")
            let states = Dictionary(grouping: rows, by: \.state).mapValues(\.count)
            let before = delivered
            delivered = states["delivered", default: 0]
            let inDoubt = states["delivering", default: 0]
            inFolder = e2e.settledDeliveredCount("erin")
            #expect(delivered >= before, "\(point)@\(hit): delivered rows never go back")
            #expect(delivered <= inFolder && inFolder <= delivered + inDoubt, "\(point)@\(hit): \(states), \(inFolder)")
            #expect(delivered + inDoubt >= hit - 1, "\(point)@\(hit): the messages before the hit were attempted")
            switch point {
            case "after-target-ack":
                // Killed after an acknowledgement, before its checkpoint: stored, not recorded.
                #expect(inFolder > delivered, "\(point)@\(hit): \(states), \(inFolder)")
            case "after-delivering-commit", "imap-append-literal":
                // Killed with a message checkpointed "delivering" whose APPEND never completed.
                #expect(inDoubt >= 1 && inFolder < delivered + inDoubt, "\(point)@\(hit): \(states), \(inFolder)")
            default:
                break
            }
        }
        let rerun = try e2e.rerunThroughSettleWindow(["erin"])
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        try e2e.expectExactlyOnce("erin")
        let report = try e2e.lastReport()
        #expect(rerun.reconciled == inFolder - delivered, "\(point)")
        #expect(rerun.delivered == count - inFolder, "\(point)")
        #expect(report.mailboxes.first?.possibleDuplicates.isEmpty == true, "\(point)")
    }

    /// A server goes on reading what a dead client sent: an APPEND a killed run had all on the wire can land after
    /// the run is gone, while the next run is already starting. Here the killed run's in-doubt message lands 0.15 s
    /// into the rerun (appended by another session, as the server would have): the rerun does not send it again
    /// (it holds it in doubt, asks again at its end, and says so if still missing); the run after the settle window
    /// finds it, if the rerun did not, and delivers it no second time.
    @Test func anAppendLandingAfterTheCrashIsFoundNotDeliveredAgain() throws {
        let e2e = try EndToEnd("e2e-straggler", counts: ["gus": 10], kind: .imap)
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-delivering-commit@9"])
        #expect(crashed.code == 128 + SIGKILL, "\(crashed.out) \(crashed.err)")
        _ = e2e.settledDeliveredCount("gus")
        let rows = try e2e.rows("gus")
        let deliveredBefore = rows.filter { $0.state == "delivered" }.count
        // The 9th message was checkpointed and never sent: the last in doubt (Dovecot's UIDLs are fixed-width hex of
        // the UID, so they sort in mailbox order). Earlier ones may be in doubt too, and stored already.
        let late = try #require(rows.filter { $0.state == "delivering" }.max { $0.uidl < $1.uidl })
        let bytes = try #require(try e2e.serverMessages("gus")[late.uidl])
        let lab = e2e.lab
        let appended = Mutex<[String]>([])
        let straggler = Thread {
            usleep(150_000)
            do {
                let probe = try lab.probe("gus-new")
                defer { probe.logout() }
                let reply = try probe.run(
                    "APPEND \"INBOX\" {\(bytes.count)+}\r\n" + String(decoding: bytes, as: UTF8.self))
                appended.withLock { $0 = reply }
            } catch {
                appended.withLock { $0 = ["\(error)"] }
            }
        }
        straggler.start()
        let rerun = try e2e.rerunThroughSettleWindow(["gus"])
        for _ in 0..<100 where !straggler.isFinished { usleep(50_000) }
        #expect(appended.withLock { $0.last?.contains(" OK") == true }, "\(appended.withLock { $0 })")
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        try e2e.expectExactlyOnce("gus")
        let (found, sent) = (rerun.reconciled, rerun.delivered)
        #expect(
            found >= 1 && deliveredBefore + found + sent == 10,
            "\(deliveredBefore) delivered before, then \(found) reconciled, \(sent) delivered")
    }

    /// The "imap-append-literal" crash point dies truly mid-literal: a scripted IMAP server (LITERAL+) receives the
    /// APPEND command and exactly the first half of the message, then the connection drops; the row stays in doubt.
    @Test func appendLiteralCrashPointSendsHalfTheLiteral() throws {
        let e2e = try EndToEnd("e2e-midliteral", counts: ["ivy": 3], kind: .imap)
        let server = try FakeServer(timeout: 20) { s in
            try s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] fake IMAP ready\r\n")
            while let line = try s.nextLine() {
                let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
                let tag = parts[0]
                switch parts.count > 1 ? parts[1] : "" {
                case "AUTHENTICATE":
                    try s.send("+ \r\n")
                    _ = try s.readLine()
                    try s.send("\(tag) OK logged in\r\n")
                case "LIST" where line.hasSuffix("\"\" \"\""):
                    try s.send("* LIST (\\Noselect) \"/\" \"\"\r\n\(tag) OK done\r\n")
                case "LIST":
                    try s.send("* LIST () \"/\" INBOX\r\n\(tag) OK done\r\n")
                case "APPEND":
                    return  // the literal follows; the rest is recorded until the client is gone
                default:
                    try s.send("\(tag) OK done\r\n")
                }
            }
        }
        let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
        let start = plan.range(of: "targets: { archive: ")!.upperBound
        let end = plan.range(of: "folder: \"INBOX\" }", range: start..<plan.endIndex)!.upperBound
        try plan.replacingCharacters(
            in: start..<end,
            with: """
                { kind: "imap", host: "127.0.0.1", port: \(server.port), tls: "none", allowPlaintext: true,
                  user: "admin", password: { file: "\(e2e.workspace)/secrets/admin" }, authorize: "{mailbox}" }
                """
        ).write(toFile: e2e.planFile, atomically: true, encoding: .utf8)
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "imap-append-literal@1"], timeout: 60)
        server.finish()
        #expect(crashed.code == 128 + SIGKILL, "\(crashed.out) \(crashed.err)")
        let wire = server.transcript.plain
        let text = String(decoding: wire, as: UTF8.self)
        guard let appendAt = text.range(of: " APPEND \"INBOX\" () \""),
            let open = text[appendAt.upperBound...]
                .range(of: "{"), let close = text[open.upperBound...].range(of: "+}\r\n"),
            let size = Int(text[open.upperBound..<close.lowerBound])
        else {
            Issue.record("no APPEND with a non-synchronizing literal: \(text.prefix(400))")
            return
        }
        let literalStart = text.utf8.distance(from: text.startIndex, to: close.upperBound)
        let first = try e2e.serverMessages("ivy").sorted { $0.key < $1.key }.map(\.value)
        let received = Array(wire[literalStart...])
        #expect(size < 256 * 1024 && first.contains { $0.count == size }, "literal of \(size) bytes")
        #expect(received.count == size / 2, "\(received.count) of \(size) literal bytes reached the server")
        #expect(first.contains { Array($0.prefix(size / 2)) == received }, "the first half of the message")
        let rows = try e2e.rows("ivy")
        #expect(rows.filter { $0.state == "delivering" }.count == 1 && rows.allSatisfy { $0.state != "delivered" })
    }

    /// The plan selects Dovecot's master-user login form (`acting: "master"`): LOGIN "<mailbox><separator><admin>"
    /// with the admin's password, against the lab's master passdb. The separator is the plan's: "%" is not this
    /// Dovecot's, so that login is refused and nothing is delivered; the default "*" is, and the run delivers all.
    @Test func masterUserLoginFormChosenByThePlan() throws {
        let e2e = try EndToEnd("e2e-master", counts: ["mia": 20], kind: .imap)
        let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
        let tracePath = e2e.workspace + "/trace.log"
        func run(_ acting: String) throws -> (code: Int32, out: String, err: String, trace: String) {
            try plan.replacingOccurrences(of: #"authorize: "{mailbox}","#, with: #"authorize: "{mailbox}", "# + acting)
                .write(toFile: e2e.planFile, atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: tracePath)
            let result = try e2e.run(["--trace", tracePath])
            return (
                result.code, result.out, result.err,
                (try? String(contentsOfFile: tracePath, encoding: .utf8)) ?? ""
            )
        }
        let wrong = try run(#"acting: "master", masterSeparator: "%","#)
        #expect(wrong.code == 1, "\(wrong.out)\n\(wrong.err)")
        #expect(wrong.trace.contains(#"LOGIN "mia-new@contoso.example%admin" <redacted>"#), "\(wrong.trace)")
        #expect(wrong.out.contains("login as mia-new@contoso.example%admin"), "\(wrong.out)")
        #expect(e2e.deliveredCount() == 0)
        // A refused login stops the mailbox: one attempt, not one per message (an admin account must not be locked
        // out), and the messages are deferred, not counted towards quarantine.
        #expect(wrong.trace.components(separatedBy: #" LOGIN "mia-new"#).count == 2, "\(wrong.trace)")
        let refused = try e2e.lastReport().mailboxes.first
        #expect(
            refused?.errorKind == .auth && refused?.deferred == 1 && refused?.quarantined == 0,
            "\(String(describing: refused))")

        // The admin fixes the plan; the refused message's backoff (5 minutes) has passed.
        try Database(path: e2e.statePath).execute("UPDATE messages SET next_try_at = 0")
        let right = try run(#"acting: "master","#)
        #expect(right.code == 0, "\(right.out)\n\(right.err)")
        #expect(right.trace.contains(#"LOGIN "mia-new@contoso.example*admin" <redacted>"#), "\(right.trace)")
        #expect(!right.trace.contains("AUTHENTICATE"), "the master-user form, not SASL PLAIN with an authzid")
        #expect(!(wrong.trace + right.trace).contains(DovecotLab.masterPassword))
        try e2e.expectExactlyOnce("mia")
        #expect(try e2e.lastReport().delivered == 20)
    }

    /// `provenanceHeader: true`: each APPEND carries "X-MailFerry-Delivery: <token>" on top, so a crash after the
    /// server stored a message with neither Message-ID nor Date is reconciled by that header, not appended again.
    /// Without the header such a message cannot be searched for and is appended a second time.
    @Test(arguments: [true, false])
    func provenanceHeaderReconcilesAMessageWithoutMessageIDOrDate(header: Bool) throws {
        let e2e = try EndToEnd("e2e-provenance", counts: ["nora": 0], kind: .imap)
        let notes = (1...5).map { number in
            Array(
                ("From: someone@wingtip.example\r\nTo: nora@wingtip.example\r\nSubject: note \(number)\r\n\r\n"
                    + "No Message-ID and no Date in this one (\(number)).\r\n").utf8)
        }
        try e2e.lab.seed(user: "nora", messages: notes)
        if header {
            let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
            try plan.replacingOccurrences(
                of: #"folder: "INBOX" }"#,
                with: #"folder: "INBOX", provenanceHeader: true }"#
            )
            .write(toFile: e2e.planFile, atomically: true, encoding: .utf8)
        }
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-target-ack@3"])
        #expect(crashed.code == 128 + SIGKILL, "\(crashed.out) \(crashed.err)")
        let before = Dictionary(grouping: try e2e.rows("nora"), by: \.state).mapValues(\.count)
        let delivered = before["delivered", default: 0]
        let inFolder = e2e.settledDeliveredCount("nora")
        if header {
            // Searchable by the header: pipelined, acknowledged together (unless the server took over a second, when
            // the pipeline is read early and the first acknowledgements are checkpointed); killed at the third
            // acknowledgement, before its checkpoint.
            #expect(inFolder >= 3 && inFolder > delivered && delivered < 3, "\(before), \(inFolder)")
            #expect(delivered + before["delivering", default: 0] >= inFolder, "\(before), \(inFolder)")
        } else {
            // Not searchable: each APPEND waits for its answer and its checkpoint.
            #expect(before["delivered"] == 2 && before["delivering"] == 1, "\(before)")
            #expect(inFolder == 3)
        }

        let rerun = try e2e.rerunThroughSettleWindow(["nora"])
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        let report = try e2e.lastReport()
        #expect(rerun.reconciled == (header ? inFolder - delivered : 0))
        #expect(rerun.delivered == 5 - (header ? inFolder : 2))
        let stored = try e2e.lab.storedFiles("nora-new").map(\.bytes)
        #expect(stored.count == (header ? 5 : 6), "\(stored.count) messages in the folder")
        // Without the header the report says which message may now be there twice.
        #expect(report.mailboxes.first?.possibleDuplicates.count == (header ? 0 : 1))
        guard header else { return }
        // Each stored message is the source's bytes under its own delivery's header, once.
        let db = try Database(path: e2e.statePath)
        let tokens = try db.prepare("SELECT uidl, token FROM messages WHERE state = 'delivered'")
            .rows { ($0.text(0) ?? "", $0.text(1) ?? "") }
        let server = try e2e.serverMessages("nora")
        #expect(tokens.count == 5)
        let expected = tokens.map { uidl, token in
            lfNormalized(Array("\(IMAPDelivery.provenanceHeaderName): \(token)\r\n".utf8) + (server[uidl] ?? []))
        }
        #expect(Set(stored) == Set(expected) && Set(stored).count == 5, "stored messages differ from the expected")
        try expectReferencesAreTheFolder(e2e, "nora", "provenance", count: 5)
    }

    /// LMTP cannot be asked whether an in-doubt delivery landed: the message is delivered again (at-least-once) and
    /// the report names it as a possible duplicate.
    @Test func lmtpInDoubtIsRedeliveredAndListedAsPossibleDuplicate() throws {
        let e2e = try EndToEnd("e2e-lmtpcrash", counts: ["finn": 12], kind: .lmtp)
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-target-ack@5"])
        #expect(crashed.code == 128 + SIGKILL)
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        let report = try e2e.lastReport()
        #expect(report.mailboxes.first?.possibleDuplicates.count == 1)
        #expect(report.delivered == 8)
        #expect(e2e.deliveredCount() == 13, "the in-doubt message arrived twice, as the report says it may have")
        let markdown = try String(contentsOfFile: e2e.workspace + "/reports/e2e/\(report.runID).md", encoding: .utf8)
        #expect(markdown.contains("## Possible duplicates"), "\(markdown)")
        #expect(markdown.contains("## Envelopes recovered"), "\(markdown)")
    }

    @Test func fiftyRandomKillsIntoIMAP() throws {
        let e2e = try EndToEnd("e2e-imapkill", counts: ["alice": 200, "bob": 200, "carol": 200], kind: .imap)
        let kills = try RandomKills(wanted: 50, attempts: 250, total: 600, count: e2e.deliveredCount) {
            try e2e.start()
        }
        print("random kills into IMAP: \(kills.summary)")
        let seed = kills.seed
        kills.expectSpread(midMigration: 40)
        let final = try e2e.rerunThroughSettleWindow(["alice", "bob", "carol"])
        print("random kills into IMAP: the rerun held \(final.held) in doubt for the settle window")
        #expect(final.code == 0, "seed \(seed): \(final.out)\n\(final.err)")
        for user in ["alice", "bob", "carol"] {
            try e2e.expectExactlyOnce(user)
            try expectReferencesAreTheFolder(e2e, user, "seed \(seed)", count: 200)
        }
    }

    /// The store's target references (APPENDUID, or the UID a reconciliation found) are exactly the folder's UIDs:
    /// one row per stored message, no UID claimed twice, none missing, all of the folder's UIDVALIDITY.
    func expectReferencesAreTheFolder(
        _ e2e: EndToEnd, _ user: String, _ note: String, count: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let probe = try e2e.lab.probe("\(user)-new")
        defer { probe.logout() }
        let examined = try probe.run("EXAMINE \"INBOX\"")
        let validity =
            examined.lazy.compactMap { line -> String? in
                guard let range = line.range(of: "[UIDVALIDITY ") else { return nil }
                return String(line[range.upperBound...].prefix { $0.isNumber })
            }.first ?? "?"
        let folder = try probe.run("UID SEARCH ALL").filter { $0.hasPrefix("* SEARCH") }
            .flatMap { $0.split(separator: " ").dropFirst(2).compactMap { UInt32($0) } }
        var referenced: [UInt32] = []
        var malformed: [String] = []
        for row in try e2e.rows(user) {
            let prefix = "INBOX;UIDVALIDITY=\(validity);UID="
            if let ref = row.ref, ref.hasPrefix(prefix), let uid = UInt32(ref.dropFirst(prefix.count)) {
                referenced.append(uid)
            } else {
                malformed.append("\(row.uidl): \(row.ref ?? "nil")")
            }
        }
        #expect(
            malformed.isEmpty, "\(note) \(user): references not of UIDVALIDITY \(validity): \(malformed.prefix(3))",
            sourceLocation: sourceLocation)
        #expect(folder.count == count && referenced.count == count, "\(note) \(user)", sourceLocation: sourceLocation)
        #expect(
            referenced.sorted() == folder.sorted(), "\(note) \(user): referenced UIDs are not the folder's",
            sourceLocation: sourceLocation)
    }
}
