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

/// `status` tells a known arrival from a guess (issue 19, point 7), and run output carries the time (point 10).
@Suite(.serialized) struct OutputTruthTests {
    /// A first run after the cutover, killed half-way: the messages it listed but did not read yet are from 2005–2008
    /// (the corpus), first seen today. They are not "after cutover": only a recovered arrival or a message first
    /// seen after the mailbox's first listing says when mail arrived.
    @Test func anInterruptedFirstRunAfterTheCutoverFlagsNothing() throws {
        let e2e = try EndToEnd("cutover-first-run", counts: ["kelly": 40])
        let cutover = UTCDate.string(Date().addingTimeInterval(-2 * 86_400), .day)
        try Truth.editPlan(e2e, "plan: \"e2e\",", "plan: \"e2e\", transition: { cutover: \"\(cutover)\" },")
        // Killed once the first Maildir batch (at most 32 messages) is in new/: those rows are "delivering" with
        // their recovered arrivals, the rest "listed", first seen by this run.
        let killed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-target-ack@1"])
        #expect(killed.code == 128 + SIGKILL, "\(killed.out)\n\(killed.err)")
        let states = try Truth.states(e2e)
        #expect((states["listed"] ?? 0) > 0 && (states["delivering"] ?? 0) > 0, "\(states)")
        let status = try Self.status(e2e)
        let kelly = try #require(status.mailboxes.first)
        #expect(!kelly.stillReceivingAfterCutover && kelly.arrivedAfterCutover == 0, "\(kelly)")
        // The arrivals known are the corpus's (2005–2008), recovered from the messages read so far.
        let last = try #require(kelly.lastArrivalAt)
        #expect(last < Self.at("2009-01-01T00:00:00Z"), "\(last)")
        #expect(status.arrivalsPerDay.allSatisfy { $0.day < "2009" }, "\(status.arrivalsPerDay.suffix(3))")
        let text = try EndToEnd.mailferry(["status", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(text.code == 0 && text.out.contains("no mailbox receives legacy mail"), "\(text.out)")
        #expect(!text.out.contains("! after cutover"), "\(text.out)")
        // The rerun finishes the mailbox; still nothing after the cutover.
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        #expect(try Self.status(e2e).flagged.isEmpty)
    }

    /// What is flagged: a recovered arrival after the cutover, and a message first seen after the cutover that the
    /// mailbox's first listing did not have (arrival not recovered yet). Not: a pending message of the first
    /// listing, whenever that was.
    @Test func afterTheCutoverOnlyFromKnownArrivals() throws {
        let folder = TempFolder("cutover")
        defer { folder.cleanup() }
        let plan = try PlanLoader.load(
            folder.file(
                "jobs/p.json5",
                """
                { plan: "p", transition: { cutover: "2026-01-10" }, sources: { isp: { host: "127.0.0.1" } },
                  targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ { source: "isp", user: "old", password: { env: "U_PW" }, target: "t" },
                               { source: "isp", user: "new", password: { env: "U_PW" }, target: "t" },
                               { source: "isp", user: "late", password: { env: "U_PW" }, target: "t" } ] }
                """))
        let store = try Store(path: plan.statePath)
        let now = Self.at("2026-02-01T00:00:00Z")
        // "old": its first listing (after the cutover) found two messages of 2005; one was read, one waits.
        let old = try store.registerMailbox(key: "isp/old", source: "isp", user: "old", target: "t", address: "old")
        let oldRows = try store.syncListing(
            mailbox: old,
            entries: [POP3Entry(number: 1, uidl: "a", size: 10), POP3Entry(number: 2, uidl: "b", size: 10)]
        ).work
        try store.recordEnvelope(
            id: oldRows[0].id, messageID: nil, dateHeader: nil,
            json: #"{"envelope":{"arrival":"2005-03-01T10:00:00Z"}}"#)
        try store.finishPoll(mailbox: old, error: nil)
        // "new": a message recovered as arriving after the cutover.
        let new = try store.registerMailbox(key: "isp/new", source: "isp", user: "new", target: "t", address: "new")
        let newRows = try store.syncListing(mailbox: new, entries: [POP3Entry(number: 1, uidl: "n", size: 10)]).work
        try store.recordEnvelope(
            id: newRows[0].id, messageID: nil, dateHeader: nil,
            json: #"{"envelope":{"arrival":"2026-01-20T10:00:00Z"}}"#)
        try store.finishPoll(mailbox: new, error: nil)
        // "late": listed once (empty maildrop), then a message appears at a later poll; not read yet.
        let late = try store.registerMailbox(key: "isp/late", source: "isp", user: "late", target: "t", address: "late")
        _ = try store.syncListing(mailbox: late, entries: [POP3Entry]())
        try store.finishPoll(mailbox: late, error: nil)
        usleep(2000)
        _ = try store.syncListing(mailbox: late, entries: [POP3Entry(number: 1, uidl: "l", size: 10)])
        try store.finishPoll(mailbox: late, error: nil)

        let status = PlanStatus(plan: plan, state: try StateFiles.read([plan.statePath]), now: now)
        let byKey = Dictionary(uniqueKeysWithValues: status.mailboxes.map { ($0.key, $0) })
        #expect(byKey["isp/old"]?.stillReceivingAfterCutover == false && byKey["isp/old"]?.arrivedAfterCutover == 0)
        #expect(byKey["isp/old"]?.lastArrivalAt == Self.at("2005-03-01T10:00:00Z"), "the waiting one is unknown")
        #expect(byKey["isp/new"]?.stillReceivingAfterCutover == true && byKey["isp/new"]?.arrivedAfterCutover == 1)
        #expect(byKey["isp/late"]?.stillReceivingAfterCutover == true && byKey["isp/late"]?.arrivedAfterCutover == 1)
        #expect(status.flagged.map(\.key) == ["isp/new", "isp/late"])
    }

    /// Run output lines carry the UTC time when standard output is not a terminal (cron, a log), or always, or
    /// never, as `--timestamps` says; anything else is a usage error.
    @Test func runLinesCarryTheTime() throws {
        let e2e = try EndToEnd("timestamps", counts: ["lee": 1])
        let auto = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(auto.code == 0, "\(auto.err)")
        let stamped = auto.out.split(separator: "\n")
        #expect(stamped.count == 4, "\(auto.out)")
        #expect(stamped.allSatisfy { $0.range(of: Truth.stamp, options: .regularExpression) != nil }, "\(auto.out)")
        // The stamps are now, in UTC.
        let first = try #require(stamped.first.map { String($0.prefix(20)) })
        let when = try #require(ISO8601DateFormatter().date(from: first))
        #expect(abs(when.timeIntervalSinceNow) < 600, "\(first)")
        let always = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--timestamps=always"], in: e2e.workspace)
        #expect(always.code == 0 && Truth.unstamped(always.out).count == 4, "\(always.out)")
        let never = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--timestamps", "never"], in: e2e.workspace)
        #expect(never.code == 0, "\(never.err)")
        #expect(never.out.split(separator: "\n").first?.hasPrefix("mailferry: plan e2e, 1 mailbox, run ") == true)
        let bad = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--timestamps", "sometimes"], in: e2e.workspace)
        #expect(bad.code == 2, "\(bad.err)")
        #expect(
            bad.err.split(separator: "\n").first.map(String.init)
                == "mailferry run: --timestamps takes always, never or auto (got sometimes)", "\(bad.err)")
    }

    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    static func status(_ e2e: EndToEnd) throws -> PlanStatus {
        let result = try EndToEnd.mailferry(["status", "jobs/e2e.json5", "--json"], in: e2e.workspace)
        #expect(result.code == 0, "\(result.err)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(PlanStatus.self, from: Data(result.out.utf8))
    }
}
