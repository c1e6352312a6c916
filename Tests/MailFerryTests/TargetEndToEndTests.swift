import Foundation
import Glibc
import MailFerryLab
import Testing
@testable import MailFerry

/// Whole migrations into IMAP (an admin acting for each mailbox) and LMTP targets on a real Dovecot, through the
/// real binary, including crashes.
@Suite(.serialized) struct TargetEndToEndTests {
    @Test(arguments: [EndToEnd.Kind.imap, .lmtp])
    func migratesIntoServerTargetsExactlyOnce(kind: EndToEnd.Kind) throws {
        let e2e = try EndToEnd("e2e-\(kind.rawValue)", counts: ["alice": 60, "bob": 60], bigAttachmentFor: "bob",
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

    /// Each crash point into IMAP: in-doubt appends are found by Message-ID (or Date) and size, not appended twice.
    @Test(arguments: ["after-retr", "after-delivering-commit", "imap-append-literal", "after-target-ack"])
    func imapCrashPointThenRerun(point: String) throws {
        let e2e = try EndToEnd("e2e-imapcrash", counts: ["erin": 30], kind: .imap)
        for hit in [3, 7, 12] {
            let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "\(point)@\(hit)"])
            #expect(crashed.code == 128 + SIGKILL, "\(point)@\(hit): \(crashed.out) \(crashed.err)")
        }
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        try e2e.expectExactlyOnce("erin")
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
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        var kills = 0
        var meanDelay = 40_000.0
        var progress: [Int] = []
        for _ in 0..<250 where kills < 50 {
            let before = e2e.deliveredCount()
            let child = try e2e.start()
            usleep(UInt32(meanDelay * (0.5 + Double(random.next() % 1000) / 1000)))
            if child.wait(timeout: 0) == nil {
                child.kill9()
                kills += 1
            }
            child.removeOutput()
            let delivered = e2e.deliveredCount()
            progress.append(delivered)
            if delivered - before > 15 { meanDelay = max(5_000, meanDelay * 0.8) }
            if delivered == before { meanDelay = min(200_000, meanDelay * 1.15) }
        }
        print("random kills into IMAP: seed \(seed), \(kills) kills, delivered after each: \(progress)")
        #expect(kills >= 50)
        let final = try e2e.run()
        #expect(final.code == 0, "seed \(seed): \(final.out)\n\(final.err)")
        for user in ["alice", "bob", "carol"] { try e2e.expectExactlyOnce(user) }
    }
}
