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

/// An APPEND a killed run left in doubt is never sent again while the server may still store it (design.md, "IMAP
/// in doubt"): a rerun that does not find it in the folder holds it, ends with exit 1 and says so; only a run after
/// the target's `settleSeconds` (counted from the first run that found it in doubt) sends what is still missing.
@Suite(.serialized) struct IMAPInDoubtTests {
    /// A slow server: what the killed run had sent for the messages still in doubt is stored 5 s after the rerun
    /// started (appended by another session, as the server would have stored the dead connection's APPENDs), long
    /// after the rerun searched for them. Killed at several moments around the APPENDs; the rerun sends none of them
    /// again, and the run after the window (the rows' holds moved back, not slept through) finds them: every message
    /// is in the folder exactly once.
    @Test(arguments: [
        "after-delivering-commit@4", "imap-append-literal@4", "after-target-ack@2", "after-retr@6",
        "after-delivering-commit@9",
    ])
    func anAppendStoredFiveSecondsIntoTheRerunIsNeverSentTwice(point: String) throws {
        let count = 10
        let e2e = try EndToEnd("e2e-slowappend", counts: ["hal": count], kind: .imap)
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": point])
        #expect(crashed.code == 128 + SIGKILL, "\(point): \(crashed.out) \(crashed.err)")
        let inFolder = e2e.settledDeliveredCount("hal")
        let server = try e2e.serverMessages("hal")
        let stored = Set(e2e.deliveredFiles("hal").values)
        // In doubt and not stored: what the slow server is still working on.
        let late = try e2e.rows("hal").filter { row in
            row.state == "delivering" && !stored.contains(EndToEnd.lfOnly(server[row.uidl] ?? []))
        }
        if point.hasPrefix("after-delivering-commit") || point.hasPrefix("imap-append-literal") {
            #expect(!late.isEmpty, "\(point): a checkpointed message whose APPEND did not complete")
        }
        let lab = e2e.lab
        let answers = Mutex<[String]>([])
        let storedAt = Mutex<Double?>(nil)
        let started = monotonicSeconds()
        let slowServer = Thread {
            usleep(5_000_000)
            do {
                let probe = try lab.probe("hal-new")
                defer { probe.logout() }
                for row in late {
                    let reply = try probe.append(server[row.uidl] ?? [])
                    answers.withLock { $0.append(reply.last ?? "") }
                }
            } catch {
                answers.withLock { $0.append("\(error)") }
            }
            storedAt.withLock { $0 = monotonicSeconds() }
        }
        slowServer.start()
        let rerun = try e2e.run()
        let rerunEnded = monotonicSeconds()
        let report = try e2e.lastReport()
        for _ in 0..<200 where !slowServer.isFinished { usleep(50_000) }
        let replies = answers.withLock { $0 }
        #expect(
            slowServer.isFinished && replies.count == late.count && replies.allSatisfy { $0.contains(" OK") },
            "\(replies)")
        #expect(rerunEnded - started < 5, "\(point): the rerun took \(rerunEnded - started) s, past the slow APPEND")
        if late.isEmpty {
            #expect(rerun.code == 0, "\(point): \(rerun.out)\n\(rerun.err)")
        } else {
            // Held, not sent: the rerun says so and ends with exit 1.
            #expect(rerun.code == 1, "\(point): \(rerun.out)\n\(rerun.err)")
            #expect(report.leftInDoubt == late.count, "\(point): \(report.leftInDoubt) held, \(late.count) late")
            let noun = late.count == 1 ? "1 message" : "\(late.count) messages"
            #expect(
                rerun.out.contains(
                    "\(noun) in doubt at the IMAP target, left for a later run so "
                        + (late.count == 1 ? "it is" : "they are") + " not delivered twice"), "\(rerun.out)")
            let markdown = try String(
                contentsOfFile: e2e.workspace + "/reports/e2e/\(report.runID).md",
                encoding: .utf8)
            #expect(markdown.contains("## In doubt at the IMAP target"), "\(markdown)")
            #expect(
                Set(try e2e.rows("hal").filter { $0.state == "delivering" }.map(\.uidl))
                    == Set(late.map(\.uidl)), "\(point): only the late messages stay in doubt")
        }
        // The slow server has stored them; nobody else did.
        _ = e2e.settledDeliveredCount("hal")
        e2e.expectNothingTwice("hal")
        #expect(e2e.deliveredCount("hal") <= count)

        try e2e.pastSettleWindow(["hal"])
        let later = try e2e.run()
        #expect(later.code == 0, "\(point): \(later.out)\n\(later.err)")
        try e2e.expectExactlyOnce("hal")
        let after = try e2e.lastReport()
        #expect(after.reconciled == (late.isEmpty ? 0 : late.count), "\(point): found, not appended again")
        #expect(after.delivered == 0 || late.isEmpty, "\(point): \(after.delivered) delivered after the window")
        _ = inFolder
    }

    /// Nothing lands: the attempt was checkpointed and never sent. Every run inside the window holds it (also when
    /// its checkpoint is a day old: the window counts from the first run that found it in doubt, after the dead
    /// run's connection was gone), and the run after the window sends it, once.
    @Test func anAttemptThatNeverLandsIsSentOnceAfterTheWindow() throws {
        let e2e = try EndToEnd("e2e-neverlands", counts: ["ida": 8], kind: .imap)
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-delivering-commit@5"])
        #expect(crashed.code == 128 + SIGKILL, "\(crashed.out) \(crashed.err)")
        _ = e2e.settledDeliveredCount("ida")
        let db = try Database(path: e2e.statePath)
        // A checkpoint long ago (a long APPEND, a late rerun) does not shorten the window.
        try db.execute("UPDATE messages SET updated_at = updated_at - 86400 WHERE state = 'delivering'")
        var held = 0
        for _ in 0..<2 {
            let rerun = try e2e.run()
            #expect(rerun.code == 1, "\(rerun.out)\n\(rerun.err)")
            held = try e2e.lastReport().leftInDoubt
            #expect(held >= 1)
            e2e.expectNothingTwice("ida")
            #expect(e2e.deliveredCount("ida") < 8)
        }
        // `status` counts them as pending (in doubt is not delivered).
        let status = try EndToEnd.mailferry(["status", e2e.planFile, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any]
        let mailboxes = json?["mailboxes"] as? [[String: Any]] ?? []
        #expect(mailboxes.contains { ($0["pending"] as? Int ?? 0) >= held }, "\(status.out)")

        try e2e.pastSettleWindow(["ida"])
        let later = try e2e.run()
        #expect(later.code == 0, "\(later.out)\n\(later.err)")
        try e2e.expectExactlyOnce("ida")
        #expect(try e2e.lastReport().delivered >= 1)
    }
}

/// `settleSeconds` on an IMAP target: 900 by default, a whole number from 60 (a server may still be storing a dead
/// connection's APPEND for a moment) to a week.
@Suite struct IMAPSettlePlanTests {
    static func plan(_ settle: String) -> String {
        """
        { plan: "settle", sources: { isp: { host: "pop.example" } },
          targets: { contoso: { kind: "imap", host: "mail.example", user: "admin", password: { env: "PW" }
                                \(settle) } },
          mailboxes: [ { source: "isp", user: "a", password: { env: "A" }, target: "contoso",
                         mailbox: "a@x.example" } ] }
        """
    }

    static func settleSeconds(_ plan: Plan) -> Int? {
        guard case .imap(let imap) = plan.targets["contoso"]?.kind else { return nil }
        return imap.settleSeconds
    }

    @Test func defaultAndRange() throws {
        let dir = TempFolder("plan-settle")
        defer { dir.cleanup() }
        #expect(Self.settleSeconds(try PlanLoader.load(dir.file("a.json5", Self.plan("")))) == 900)
        let hour = try PlanLoader.load(dir.file("b.json5", Self.plan(", settleSeconds: 3600")))
        #expect(Self.settleSeconds(hour) == 3600)
        for bad in ["0", "59", "604801", "\"10m\"", "1.5"] {
            let error = #expect(throws: PlanError.self) {
                try PlanLoader.load(dir.file("c.json5", Self.plan(", settleSeconds: \(bad)")))
            }
            #expect(
                error?.description.contains("targets.contoso.settleSeconds: must be") == true,
                "\(bad): \(error?.description ?? "")")
        }
    }
}
