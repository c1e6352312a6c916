import CSQLite
import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `--state-rows N,…`: what `mailferry status` and the dashboard refresh every run ends with (`status --html`
/// writes the same page) cost over a state database of N message rows, without a lab: the rows are written through
/// the Store (listed, in one transaction per mailbox), then spread over the states and given recovered arrivals in
/// one more transaction.
enum StateRows {
    static func measure(rows: Int, mailboxes: Int, mailferry: String) throws -> [Row] {
        let work = NSTemporaryDirectory() + "mailferry-bench-state-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/jobs", withIntermediateDirectories: true)
        let users = (0..<mailboxes).map { String(format: "u%03d", $0) }
        let plan = work + "/jobs/rows.json5"
        try Data(
            """
            {
              plan: "rows",
              transition: { start: "2026-11-01", cutover: "2026-12-15", end: "2027-02-01" },
              sources: { isp: { host: "127.0.0.1", port: 995 } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
              mailboxes: [ \(users.map { "{ user: \"\($0)\", password: { env: \"UNUSED\" } }" }.joined(separator: ", ")) ],
            }
            """.utf8
        ).write(to: URL(fileURLWithPath: plan))
        let statePath = work + "/state/rows.sqlite"
        let seeded = Date()
        try seed(statePath: statePath, rows: rows, mailboxes: mailboxes)
        let seconds = Date().timeIntervalSince(seeded)
        log("\(rows) rows seeded in \(String(format: "%.1f", seconds)) s")
        var result: [Row] = []
        // The first status brings an older database's schema up to date (as the first run would); then measured.
        _ = try Measure.run(mailferry, ["status", plan])
        for (name, arguments) in [
            ("mailferry status", ["status", plan]),
            ("dashboard refresh (status --html)", ["status", plan, "--html"]),
        ] {
            var best: (seconds: Double, kib: Int)?
            for _ in 0..<3 {
                let m = try timed(mailferry, arguments)
                if best == nil || m.seconds < best!.seconds { best = m }
            }
            result.append(
                Row(
                    tool: name, run: "\(rows) rows", messages: 0, bytes: 0, seconds: best!.seconds,
                    rssKiB: best!.kib, verdict: "\(mailboxes) mailboxes, best of 3"))
        }
        return result
    }

    /// Writes a state database of `rows` message rows in `mailboxes` mailboxes at `statePath`, with the real schema
    /// (through the Store): listed, then 95% delivered and the rest spread over the other states, each with a
    /// recovered arrival and an envelope about as long as a recovered one. Also `--write-state` (docs/operations.md
    /// measures the state checks on one).
    static func seed(statePath: String, rows: Int, mailboxes: Int) throws {
        let users = (0..<mailboxes).map { String(format: "u%03d", $0) }
        let store = try Store(path: statePath)
        for (index, user) in users.enumerated() {
            let id = try store.registerMailbox(
                key: "isp/\(user)", source: "isp", user: user, target: "archive",
                address: "\(user)@contoso.example")
            let count = rows / mailboxes + (index < rows % mailboxes ? 1 : 0)
            let entries = (0..<count).map {
                POP3Entry(
                    number: $0 + 1, uidl: String(format: "%08X%08X", index, $0),
                    size: 8_000)
            }
            _ = try store.syncListing(mailbox: id, entries: entries)
        }
        // 95% delivered, the rest spread over the other states; arrivals over 90 days from 2026-11-01, with an
        // envelope about as long as a recovered one.
        try exec(
            statePath,
            """
            BEGIN;
            UPDATE messages SET
              state = CASE id % 100 WHEN 95 THEN 'listed' WHEN 96 THEN 'deferred' WHEN 97 THEN 'failed'
                                    WHEN 98 THEN 'duplicate' WHEN 99 THEN 'delivering' ELSE 'delivered' END,
              error_kind = CASE id % 100 WHEN 96 THEN 'transient' WHEN 97 THEN 'permanent' END,
              size = 8000, sha256 = printf('%064x', id), target = 'archive', token = 'tok-' || id,
              target_ref = 'new/tok-' || id || ',S=8000', message_id = '<' || id || '@wingtip.example>',
              date_header = 'Mon, 7 Dec 2026 10:00:00 +0000', delivered_at = first_seen_at,
              envelope = json_object('envelope', json_object(
                'arrival', strftime('%Y-%m-%dT%H:%M:%SZ', 1793491200 + (id * 7919) % 7776000, 'unixepoch'),
                'arrivalSource', 'provider-received', 'sender', 'someone@fabrikam.example',
                'senderProvenance', json_object('header', 'Return-Path', 'index', 0, 'trusted', json('true')),
                'recipients', json_array(json_object('address', 'person@wingtip.example', 'provenance',
                  json_object('header', 'X-Original-To', 'index', 0, 'trusted', json('true')))),
                'boundary', 'mx1.wingtip-isp.example'),
                'routing', json_array(json_object('address', 'person@contoso.example', 'rule', 'mailbox')));
            COMMIT;
            """)
    }

    /// Wall time and peak RSS of one run, through GNU time when there is one (its ru_maxrss is the child's own: the
    /// small `time` process is what the child inherits at exec), else sampled.
    static func timed(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, kib: Int) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
            let m = try Measure.run(executable, arguments)
            return (m.seconds, m.peakRSSKiB)
        }
        let m = try Measure.run("/usr/bin/time", ["-f", "mailferry-bench-rss %M"] + [executable] + arguments)
        guard m.status == 0 else {
            throw BenchError("\(arguments.joined(separator: " ")) exited \(m.status)\n\(m.stderr)")
        }
        let line = m.stderr.split(separator: "\n").last { $0.hasPrefix("mailferry-bench-rss ") }
        return (m.seconds, Int(line?.split(separator: " ").last ?? "") ?? 0)
    }

    static func exec(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw BenchError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
            defer { sqlite3_free(message) }
            throw BenchError("seeding \(path): \(message.map { String(cString: $0) } ?? "?")")
        }
    }
}
