import Foundation

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A plan workspace with state written through the real `Store` (then dated by hand), for `status` and the
/// dashboard: the plan's own state file and one shard file, a run report in each, hostile strings where mail and
/// servers can put them.
///
/// - isp/chris: 6 listed; 4 delivered (one of them only per the shard file, which wins), 1 deferred, 1 pending;
///   a message arrived on 2026-12-20, after the cutover (2026-12-15).
/// - isp/kelly: 3 listed; 1 delivered, 1 failed, 1 quarantined; its last poll failed with markup in the error.
/// - isp/sam: only in the shard file; 2 delivered, 1 duplicate.
struct StatusFixture {
    let folder: TempFolder
    var workspace: String { folder.path }
    var planFile: String { folder.path + "/jobs/fixture.json5" }
    var statePath: String { folder.path + "/state/fixture.sqlite" }
    var shardPath: String { folder.path + "/state/fixture-shard-1-of-2.sqlite" }
    /// After the cutover: chris is flagged.
    static let now = at("2026-12-22T12:00:00Z")
    static let hostileError = "pop3 127.0.0.1:995: <script>alert(1)</script> & \"refused\""

    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    init() throws {
        folder = TempFolder("status")
        _ = folder.file(
            "jobs/fixture.json5",
            """
            {
              plan: "fixture",
              transition: { start: "2026-11-01", cutover: "2026-12-15", end: "2027-02-01" },
              sources: { isp: { host: "127.0.0.1", port: 995, caFile: "ca.pem" } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
              mailboxes: [
                { user: "chris", password: { env: "FIXTURE_PW" } },
                { user: "kelly", password: { env: "FIXTURE_PW" } },
                { user: "sam", password: { env: "FIXTURE_PW" } },
              ],
            }
            """)
        _ = folder.file("ca.pem", "unused\n")
        let main = try Store(path: statePath)
        try Self.mailbox(
            main, "chris", poll: "2026-12-21T08:10:00Z", ok: "2026-12-21T08:10:00Z",
            messages: [
                ("c1", .delivered, "2026-11-02T09:00:00Z"), ("c2", .delivered, "2026-11-03T10:30:00Z"),
                ("c3", .delivered, "2026-11-10T16:45:00Z"), ("c4", .listed, "2026-12-20T11:00:00Z"),
                ("c5", .deferred, "2026-12-05T07:00:00Z"), ("c6", .listed, "2026-12-10T13:00:00Z"),
            ])
        try Self.mailbox(
            main, "kelly", poll: "2026-12-21T08:10:00Z", ok: "2026-12-19T08:10:00Z",
            error: Self.hostileError,
            messages: [
                ("k1", .delivered, "2026-11-05T12:00:00Z"), ("k2<b>&\"", .failed, "2026-11-06T12:00:00Z"),
                ("k3", .quarantined, "2026-11-07T12:00:00Z"),
            ])
        try Self.run(main, id: "20261120T080000.000Z", started: "2026-11-20T08:00:00Z", delivered: 4)
        let shard = try Store(path: shardPath)
        try Self.mailbox(
            shard, "chris", poll: "2026-12-21T09:00:00Z", ok: "2026-12-21T09:00:00Z", onServer: 6,
            messages: [("c4", .delivered, "2026-12-20T11:00:00Z")])
        try Self.mailbox(
            shard, "sam", poll: "2026-12-21T09:00:00Z", ok: "2026-12-21T09:00:00Z",
            messages: [
                ("s1", .delivered, "2026-11-04T08:00:00Z"), ("s2", .delivered, "2026-11-04T09:00:00Z"),
                ("s3", .duplicate, "2026-11-04T09:00:00Z"),
            ])
        try Self.run(shard, id: "20261221T090000.000Z", started: "2026-12-21T09:00:00Z", delivered: 3)
    }

    enum Outcome { case listed, delivered, deferred, failed, quarantined, duplicate }

    /// One mailbox with messages in the given states, first seen at the first poll (2026-11-20) and arrived when
    /// given (the envelope's recovered arrival).
    static func mailbox(
        _ store: Store, _ user: String, poll: String, ok: String, onServer: Int? = nil,
        error: String? = nil, messages: [(String, Outcome, String)]
    ) throws {
        let id = try store.registerMailbox(
            key: "isp/\(user)", source: "isp", user: user, target: "archive",
            address: "\(user)@contoso.example")
        let entries = messages.enumerated().map { POP3Entry(number: $0.offset + 1, uidl: $0.element.0, size: 1000) }
        let work = try store.syncListing(mailbox: id, entries: entries).work
        var firstDelivered: Int64?
        for (uidl, outcome, arrival) in messages {
            let row = work.first { $0.uidl == uidl }!
            try store.recordEnvelope(
                id: row.id, messageID: "<\(uidl)@example>", dateHeader: nil,
                json: #"{"envelope":{"arrival":"\#(arrival)"}}"#)
            switch outcome {
            case .listed: break
            case .delivered:
                try store.markDelivering(
                    id: row.id, target: "archive", token: "tok-\(user)-\(uidl)", size: 1000,
                    sha256: "hash-\(uidl)")
                try store.markDelivered(id: row.id, targetRef: "new/tok-\(user)-\(uidl),S=1000")
                firstDelivered = firstDelivered ?? row.id
            case .deferred:
                try store.markDeferred(
                    id: row.id, kind: .transient, error: "connection reset", retryAt: 0,
                    countAttempt: true)
            case .failed:
                try store.markFailed(id: row.id, kind: .permanent, error: "552 message refused")
            case .quarantined:
                try store.markQuarantined(id: row.id, kind: .quota, error: "mailbox full")
            case .duplicate:
                try store.markDuplicate(id: row.id, of: firstDelivered!, size: 1000, sha256: "hash-same")
            }
        }
        try store.finishPoll(mailbox: id, error: error)
        let db = try Database(path: store.path)
        try db.prepare("UPDATE mailboxes SET last_poll_at = ?, last_ok_at = ?, server_count = ? WHERE id = ?")
            .run([
                .double(at(poll).timeIntervalSince1970), .double(at(ok).timeIntervalSince1970),
                .int(Int64(onServer ?? messages.count)), .int(id),
            ])
        try db.prepare("UPDATE messages SET first_seen_at = ?, updated_at = ? WHERE mailbox_id = ?")
            .run([
                .double(at("2026-11-20T08:00:00Z").timeIntervalSince1970),
                .double(at(poll).timeIntervalSince1970), .int(id),
            ])
    }

    static func run(_ store: Store, id: String, started: String, delivered: Int) throws {
        try store.startRun(id: id)
        var result = MailboxResult(key: "isp/chris", address: "chris@contoso.example", target: "archive")
        result.delivered = delivered
        let summary = RunSummary(
            runID: id, plan: "fixture", startedAt: at(started),
            finishedAt: at(started).addingTimeInterval(12), mailboxes: [result],
            interrupted: false, exitCode: 0)
        try store.finishRun(
            id: id, exitCode: 0,
            summaryJSON: String(decoding: try ReportWriter.json(summary), as: UTF8.self))
        let db = try Database(path: store.path)
        try db.prepare("UPDATE runs SET started_at = ? WHERE run_id = ?")
            .run([.double(at(started).timeIntervalSince1970), .text(id)])
    }

    func plan() throws -> Plan { try PlanLoader.load(planFile) }

    func status() throws -> PlanStatus {
        PlanStatus(
            plan: try plan(), state: try StateFiles.read(StateFiles.discover(statePath: statePath)),
            now: Self.now)
    }
}
