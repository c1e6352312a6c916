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

/// `run --quiet` under cron (issue 19, point 8): a legacy server that is down is said once, not every run; again
/// after `remindAfter` while it lasts; its recovery once. The exit code tells the truth every time.
@Suite(.serialized) struct CronEtiquetteTests {
    /// Real Dovecot, stopped and started again. The reminder's wait is the plan's `remindAfter` (1 h here) passed
    /// on the clock `--quiet` decides by (`MAILFERRY_TEST_CLOCK_OFFSET`), not slept.
    @Test func aServerThatIsDownIsSaidOnceThenRemindedThenItsRecoveryOnce() throws {
        let e2e = try EndToEnd("cron-etiquette", counts: ["chris": 2])
        try Truth.editPlan(e2e, "plan: \"e2e\",", "plan: \"e2e\", remindAfter: \"1h\",")
        func quiet(_ environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
            try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--quiet"], in: e2e.workspace, environment: environment)
        }
        let first = try quiet()
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        #expect(
            Truth.unstamped(first.out).first.map(Truth.normalised)?.hasPrefix(
                "  chris@contoso.example (isp/chris): 2 on server, 2 new, 2 delivered (S)") == true, "\(first.out)")
        let ports = e2e.lab.ports
        e2e.lab.stop()
        let refused = "pop3 127.0.0.1:\(ports.pop3s): cannot connect to 127.0.0.1:\(ports.pop3s): Connection refused"

        // Down: said at once, with the exit code.
        let down = try quiet()
        #expect(down.code == 1 && down.err.isEmpty, "\(down.out)\n\(down.err)")
        let downLines = Truth.unstamped(down.out).map(Truth.normalised)
        #expect(
            downLines == [
                "  chris@contoso.example (isp/chris): 0 delivered (S) [T s]",
                "    deferred (transient, retried next run): \(refused)",
                "done: 1 mailbox, 0 messages delivered (S) in T s; 1 mailbox deferred (transient); exit 1",
                "report: reports/e2e/RUN-ID.md",
            ], "\(downLines)")
        // Still down ten minutes later: nothing to say, and cron mails nothing.
        let again = try quiet(["MAILFERRY_TEST_CLOCK_OFFSET": "600"])
        #expect(again.code == 1 && again.out.isEmpty && again.err.isEmpty, "\(again.out)\n\(again.err)")
        // Still down after remindAfter: a reminder.
        let reminder = try quiet(["MAILFERRY_TEST_CLOCK_OFFSET": "3601"])
        #expect(reminder.code == 1 && reminder.err.isEmpty, "\(reminder.out)\n\(reminder.err)")
        let reminderLines = Truth.unstamped(reminder.out).map(Truth.normalised)
        #expect(reminderLines.count == 5, "\(reminderLines)")
        #expect(reminderLines.prefix(2) == downLines.prefix(2), "\(reminderLines)")
        #expect(
            reminderLines.dropFirst(2).first?.range(
                of: #"^    still failing since [0-9-]{10}T[0-9:]{8}Z \(said again every 1 h while it lasts\)$"#,
                options: .regularExpression) != nil, "\(reminderLines)")
        // And silent again right after the reminder.
        let afterReminder = try quiet(["MAILFERRY_TEST_CLOCK_OFFSET": "3700"])
        #expect(afterReminder.code == 1 && afterReminder.out.isEmpty, "\(afterReminder.out)")

        // Back: the recovery is said once, then nothing.
        let lab = try DovecotLab.start(users: e2e.users, root: e2e.lab.root, ports: ports)
        defer {
            lab.stop()
            withExtendedLifetime(e2e) {}
        }
        let back = try quiet(["MAILFERRY_TEST_CLOCK_OFFSET": "3800"])
        #expect(back.code == 0 && back.err.isEmpty, "\(back.out)\n\(back.err)")
        let backLines = Truth.unstamped(back.out).map(Truth.normalised)
        #expect(backLines.first == "  chris@contoso.example (isp/chris): 2 on server, 0 new, 0 delivered (S) [T s]")
        #expect(
            backLines.dropFirst().first?.range(
                of:
                    #"^    recovered: the transient failure \(.+Connection refused\) since [0-9-]{10}T[0-9:]{8}Z is over$"#,
                options: .regularExpression) != nil, "\(backLines)")
        #expect(backLines.dropFirst(2).first == "done: 1 mailbox, 0 messages delivered (S) in T s; exit 0")
        let quietAgain = try quiet(["MAILFERRY_TEST_CLOCK_OFFSET": "3900"])
        #expect(quietAgain.code == 0 && quietAgain.out.isEmpty && quietAgain.err.isEmpty, "\(quietAgain.out)")
        try e2e.expectExactlyOnce("chris")
    }

    /// The decision alone, with the state a run leaves: first failure, the same again, a different one, a reminder,
    /// a wait that is only a LOGIN-DELAY (no trouble) and one that lasts past `remindAfter` (trouble), a recovery.
    @Test func whatIsSaidAndWhen() throws {
        let folder = TempFolder("etiquette")
        defer { folder.cleanup() }
        let store = try Store(path: folder.path + "/state.sqlite")
        _ = try store.registerMailbox(key: "isp/u", source: "isp", user: "u", target: "t", address: "u@example")
        var plan = try PlanLoader.load(
            folder.file(
                "jobs/p.json5",
                """
                { plan: "p", remindAfter: 120, sources: { isp: { host: "127.0.0.1" } },
                  targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t" } ] }
                """))
        #expect(plan.remindAfter == 120)
        plan.remindAfter = 120
        func etiquette(_ offset: Double) -> QuietEtiquette {
            QuietEtiquette(plan: plan, store: store, environment: ["MAILFERRY_TEST_CLOCK_OFFSET": "\(offset)"])
        }
        var down = MailboxResult(key: "isp/u", address: "u@example", target: "t")
        down.error = "cannot connect: Connection refused"
        down.errorKind = .transient
        var other = down
        other.error = "login as u refused: [AUTH] bad password"
        other.errorKind = .auth
        var fine = MailboxResult(key: "isp/u", address: "u@example", target: "t")
        fine.onServer = 0
        var waiting = fine
        waiting.waiting = "[IN-USE] maildrop in use"

        #expect(etiquette(0).say(down) == "")  // first failure
        #expect(etiquette(10).say(down) == nil)  // the same, soon after
        #expect(etiquette(20).say(other) == "")  // another failure
        #expect(etiquette(30).say(other) == nil)
        #expect(etiquette(139).say(other) == nil)
        #expect(etiquette(141).say(other)?.hasPrefix("\n    still failing since ") == true)  // reminder
        #expect(etiquette(150).say(other) == nil)
        #expect(etiquette(160).say(fine)?.hasPrefix("\n    recovered: the auth failure (login as u") == true)
        #expect(etiquette(170).say(fine) == nil)
        // Waiting right after a listing is no trouble (a LOGIN-DELAY every other run); past remindAfter it is.
        _ = try store.syncListing(
            mailbox: try #require(try store.mailboxID(key: "isp/u")), entries: [POP3Entry]())
        #expect(etiquette(0).say(waiting) == nil)
        #expect(etiquette(1000).say(waiting) == "")
        #expect(etiquette(1010).say(waiting) == nil)
        #expect(etiquette(1130).say(waiting)?.hasPrefix("\n    still waiting since ") == true)
        var delivered = fine
        delivered.delivered = 1
        #expect(etiquette(1140).say(delivered)?.hasPrefix("\n    recovered: the wait ([IN-USE]") == true)
        #expect(etiquette(1150).say(delivered) == "")  // news is always said
        #expect(try store.saidTrouble(key: "isp/u").said == nil)
        // A failure, then a run that only waits (listed moments ago, so no trouble yet): it never logged in, so it
        // cannot tell the failure is over; no recovery is said until a run that did log in.
        _ = try store.syncListing(
            mailbox: try #require(try store.mailboxID(key: "isp/u")), entries: [POP3Entry]())
        #expect(etiquette(0).say(down) == "")
        #expect(etiquette(5).say(waiting) == nil)
        #expect(try store.saidTrouble(key: "isp/u").said?.kind == "transient")
        #expect(etiquette(10).say(fine)?.hasPrefix("\n    recovered: the transient failure (cannot connect") == true)
    }
}
