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

/// `status` and the dashboard count in SQL: right at a hundred thousand messages, and the same numbers as merging
/// every row when several state files know the same mailboxes.
@Suite struct StatusScaleTests {
    static let cutover = "2026-12-15"

    /// A plan with mailboxes u00…u(n-1) of source isp, and the state path it names.
    static func plan(_ folder: TempFolder, mailboxes: Int) throws -> Plan {
        let list = (0..<mailboxes).map { "{ user: \"u\(pad($0))\", password: { env: \"SCALE_PW\" } }" }
        let file = folder.file(
            "jobs/scale.json5",
            """
            {
              plan: "scale",
              transition: { start: "2026-11-01", cutover: "\(cutover)", end: "2027-02-01" },
              sources: { isp: { host: "127.0.0.1", port: 995 } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
              mailboxes: [ \(list.joined(separator: ", ")) ],
            }
            """)
        return try PlanLoader.load(file)
    }

    static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// 2026-11-01T00:00:00Z
    static let start = 1_793_491_200.0

    /// ISO 8601 for a unix time within 2026-11 and 2026-12 (what the envelope's JSON holds).
    static func iso(_ time: Double) -> String {
        let seconds = Int(time - start)
        var day = seconds / 86_400 + 1
        var month = 11
        if day > 30 { (day, month) = (day - 30, 12) }
        let rest = seconds % 86_400
        return "2026-\(month)-\(pad(day))T\(pad(rest / 3600)):\(pad(rest / 60 % 60)):\(pad(rest % 60))Z"
    }

    @Test func aHundredThousandMessagesCountRight() throws {
        let folder = TempFolder("scale")
        defer { folder.cleanup() }
        let plan = try Self.plan(folder, mailboxes: 20)
        let store = try Store(path: plan.statePath)
        var ids: [Int64] = []
        for index in 0..<20 {
            ids.append(
                try store.registerMailbox(
                    key: "isp/u\(Self.pad(index))", source: "isp",
                    user: "u\(Self.pad(index))", target: "archive", address: nil))
        }
        // Expected, per mailbox: delivered, pending, deferred, failed, quarantined, duplicate, after cutover.
        var expected = [[Int]](repeating: [0, 0, 0, 0, 0, 0, 0], count: 20)
        var lastArrival = [Double](repeating: 0, count: 20)
        var perDay: [String: Int] = [:]
        let cutoverEnd = Self.start + 45 * 86_400  // 2026-12-16T00:00:00Z
        let firstSeen = Self.start + 3 * 86_400 + 0.5
        // A message without a recovered arrival counts as arrived when first seen only if that was after its
        // mailbox's first listing: so for u03 (listed first on 2026-11-01), not for u13 (first listed when it
        // was first seen: it was on the server already, its arrival unknown).
        let seenAfterFirstListing = { (box: Int) in box % 4 == 3 }
        try store.withDatabaseForTests { db in
            for (index, id) in ids.enumerated() {
                try db.prepare("UPDATE mailboxes SET first_listed_at = ? WHERE id = ?")
                    .run([.double(seenAfterFirstListing(index) ? Self.start : firstSeen), .int(id)])
            }
            try db.transaction {
                let insert = try db.prepare(
                    """
                    INSERT INTO messages (mailbox_id, uidl, listed_size, state, quarantined, error_kind,
                                          first_seen_at, updated_at, envelope, parent_id)
                    VALUES (?, ?, 8000, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for i in 0..<100_000 {
                    let box = i % 20
                    let (state, quarantined, kind, column): (String, Int64, String?, Int) =
                        switch i % 100 {
                        case 0..<90: ("delivered", 0, nil, 0)
                        case 90..<94: ("listed", 0, nil, 1)
                        case 94: ("delivering", 0, nil, 1)
                        case 95, 96: ("deferred", 0, "transient", 2)
                        case 97: ("failed", 0, "permanent", 3)
                        case 98: ("failed", 1, "quota", 4)
                        default: ("duplicate", 0, nil, 5)
                        }
                    expected[box][column] += 1
                    // Every tenth message (all of u03's and u13's) has no recovered arrival: it counts as arrived
                    // when first seen if its mailbox was listed before (u03), else its arrival is unknown (u13).
                    let arrival = i % 10 == 3 ? firstSeen : Self.start + Double(i % 60) * 86_400 + Double(i % 86_400)
                    if i % 10 != 3 || seenAfterFirstListing(box) {
                        lastArrival[box] = max(lastArrival[box], arrival)
                        if arrival >= cutoverEnd { expected[box][6] += 1 }
                        perDay[String(Self.iso(arrival).prefix(10)), default: 0] += 1
                    }
                    let envelope =
                        i % 10 == 3
                        ? Statement.Value.null
                        : .text(#"{"envelope":{"arrival":"\#(Self.iso(arrival))","sender":"a@b.example"}}"#)
                    try insert.run([
                        .int(ids[box]), .text(String(format: "%08X", i)), .text(state),
                        .int(quarantined), kind.map { .text($0) } ?? .null, .double(firstSeen),
                        .double(firstSeen), envelope, .null,
                    ])
                }
                // Routed deliveries of catch-all messages are not counted as the mailbox's messages.
                for i in 0..<1_000 {
                    try insert.run([
                        .int(ids[0]), .text("r\(i)"), .text("failed"), .int(0), .text("permanent"),
                        .double(firstSeen), .double(firstSeen), .null, .int(1),
                    ])
                }
            }
        }
        let status = PlanStatus(
            plan: plan, state: try StateFiles.read([plan.statePath]),
            now: Date(timeIntervalSince1970: Self.start + 60 * 86_400))
        #expect(status.mailboxes.count == 20)
        for (index, m) in status.mailboxes.enumerated() {
            let e = expected[index]
            let counts: [Int] = [
                m.delivered, m.pending, m.deferred, m.failed, m.quarantined, m.duplicate,
                m.arrivedAfterCutover,
            ]
            #expect(counts == e, "\(m.key)")
            #expect(m.known == 5_000 && m.stillReceivingAfterCutover == (e[6] > 0))
            #expect(
                m.lastArrivalAt == (lastArrival[index] == 0 ? nil : Date(timeIntervalSince1970: lastArrival[index])),
                "\(m.key)")
            #expect(m.lastNewSeenAt == Date(timeIntervalSince1970: firstSeen))
        }
        let totals = status.totals
        let counts: [Int] = [
            totals.known, totals.delivered, totals.pending, totals.deferred, totals.failed,
            totals.quarantined, totals.duplicate,
        ]
        #expect(counts == [100_000, 90_000, 5_000, 2_000, 1_000, 1_000, 1_000])
        #expect(status.errorsByCategory == ["transient": 2_000, "permanent": 1_000, "quota": 1_000])
        #expect(status.arrivalsPerDay.map(\.day) == perDay.keys.sorted())
        #expect(status.arrivalsPerDay.map(\.count) == perDay.sorted { $0.key < $1.key }.map(\.value))
        // u13's 5,000 messages have no known arrival.
        #expect(status.arrivalsPerDay.reduce(0) { $0 + $1.count } == 95_000)
    }

    /// Three state files that share mailboxes and messages, with routed rows, unknown error kinds and arrivals
    /// before 1970: the SQL counts equal those of merging every row.
    @Test func countsEqualTheRowByRowMerge() throws {
        let folder = TempFolder("scale-merge")
        defer { folder.cleanup() }
        let plan = try Self.plan(folder, mailboxes: 6)
        var generator = SplitMix64(seed: 8)
        let states = MessageState.allCases.map(\.rawValue)
        let kinds: [String?] = [nil, "transient", "permanent", "quota", "no-such-kind"]
        var paths: [String] = []
        for file in 0..<3 {
            let path = folder.path + "/state/scale-\(file).sqlite"
            paths.append(path)
            let store = try Store(path: path)
            // Mailboxes u00…u03 in every file, u04 only in the first, u07 (not in the plan) only in the last.
            var boxes = (0..<4).map { $0 }
            if file == 0 { boxes.append(4) }
            if file == 2 { boxes.append(7) }
            for box in boxes {
                let id = try store.registerMailbox(
                    key: "isp/u\(Self.pad(box))", source: "isp",
                    user: "u\(Self.pad(box))", target: "archive", address: nil)
                try store.withDatabaseForTests { db in
                    try db.prepare("UPDATE mailboxes SET first_listed_at = ? WHERE id = ?")
                        .run([.double(Self.mergeFirstListed), .int(id)])
                    try db.transaction {
                        let insert = try db.prepare(
                            """
                            INSERT INTO messages (mailbox_id, uidl, state, quarantined, error_kind, first_seen_at,
                                                  updated_at, envelope, parent_id)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """)
                        for n in 0..<300 where generator.next() % 3 != 0 {
                            let arrival: Statement.Value =
                                switch generator.next() % 4 {
                                case 0: .null
                                case 1: .text(#"{"envelope":{"arrival":"1969-12-31T23:59:59Z"}}"#)
                                default:
                                    .text(
                                        #"{"envelope":{"arrival":"\#(Self.iso(Self.start + Double(generator.next() % 5_000_000)))"}}"#
                                    )
                                }
                            let kind = kinds[Int(generator.next() % 5)]
                            try insert.run([
                                .int(id), .text(n % 50 == 7 ? "ü\(n)" : "m\(n)"),
                                .text(states[Int(generator.next() % UInt64(states.count))]),
                                .int(Int64(generator.next() % 2)), kind.map { .text($0) } ?? .null,
                                .double(Self.start + Double(generator.next() % 8_000_000) + 0.25),
                                .double(Double(generator.next() % 10)), arrival,
                                generator.next() % 10 == 0 ? .int(1) : .null,
                            ])
                        }
                    }
                }
            }
        }
        let now = Date(timeIntervalSince1970: Self.start + 80 * 86_400)
        let counted = PlanStatus(plan: plan, state: try StateFiles.read(paths), now: now)
        let merged = Self.rowByRow(plan: plan, state: try StateFiles.readMessages(paths), now: now)
        #expect(counted.mailboxes == merged.mailboxes)
        #expect(counted.arrivalsPerDay == merged.arrivalsPerDay)
        #expect(counted.errorsByCategory == merged.errorsByCategory)
        #expect(counted.totals.known > 1_000)
    }

    /// Months of cron runs: the dashboard keeps the last 40 run reports, added up in SQL, and says how many there were.
    @Test func theDashboardKeepsTheLastFortyRuns() throws {
        let folder = TempFolder("scale-runs")
        defer { folder.cleanup() }
        let plan = try Self.plan(folder, mailboxes: 2)
        let store = try Store(path: plan.statePath)
        for n in 0..<45 {
            let id = "run-\(n)"
            let started = Date(timeIntervalSince1970: Self.start + Double(n) * 600)
            try store.startRun(id: id)
            let results = (0..<2).map { box in
                var result = MailboxResult(key: "isp/u0\(box)", address: "u0\(box)@contoso.example", target: "archive")
                (result.delivered, result.deferred, result.failed) = (n + box, 1, box)
                return result
            }
            let summary = RunSummary(
                runID: id, plan: "scale", startedAt: started, finishedAt: started,
                mailboxes: results, interrupted: false, exitCode: n % 2 == 0 ? 0 : 1)
            try store.finishRun(
                id: id, exitCode: summary.exitCode,
                summaryJSON: String(decoding: try ReportWriter.json(summary), as: UTF8.self))
            try store.withDatabaseForTests { db in
                try db.prepare("UPDATE runs SET started_at = ? WHERE run_id = ?")
                    .run([.double(started.timeIntervalSince1970), .text(id)])
            }
        }
        let state = try StateFiles.read([plan.statePath])
        #expect(state.runs.total == 45 && state.runs.map(\.runID) == (5..<45).map { "run-\($0)" })
        let html = Dashboard.html(status: PlanStatus(plan: plan, state: state), runs: state.runs, verify: nil)
        #expect(html.contains("The last 40 of 45 runs."))
        #expect(html.contains("run run-44: 89 delivered, 2 deferred, 1 failed, exit 0"))
        #expect(html.contains("run run-5: 11 delivered, 2 deferred, 1 failed, exit 1"))
        #expect(!html.contains("run run-4:"))
    }

    /// Every mailbox's first listing in the files of `countsEqualTheRowByRowMerge`: half-way through the first
    /// sights, so a message without a recovered arrival is known by its first sight in some rows and not in others.
    static let mergeFirstListed = start + 4_000_000.25

    /// The counts as `status` made them before it counted in SQL: every merged row, one by one. An arrival is known
    /// when recovered, or when the message was first seen after its mailbox's first listing (`mergeFirstListed`).
    static func rowByRow(plan: Plan, state: MergedState, now: Date) -> PlanStatus {
        var status = PlanStatus(
            plan: plan,
            state: StateSummary(
                files: state.files, mailboxes: state.mailboxes,
                runs: .init()), now: now)
        let cutoverEnd = PlanStatus.day(cutover)! + 86_400
        // Foundation's formatter, independent of the C-library one status uses.
        let days = DateFormatter()
        days.locale = Locale(identifier: "en_US_POSIX")
        days.timeZone = TimeZone(identifier: "UTC")
        days.dateFormat = "yyyy-MM-dd"
        var perDay: [String: Int] = [:]
        var errors = status.errorsByCategory
        for index in status.mailboxes.indices {
            var m = status.mailboxes[index]
            for message in state.messages[m.key] ?? [] {
                m.known += 1
                switch message.state {
                case .listed, .delivering: m.pending += 1
                case .delivered: m.delivered += 1
                case .duplicate: m.duplicate += 1
                case .deferred: m.deferred += 1
                case .failed: if message.quarantined { m.quarantined += 1 } else { m.failed += 1 }
                case .removed: m.removed += 1
                }
                if [.deferred, .failed].contains(message.state) {
                    errors[message.errorKind?.rawValue ?? "unknown", default: 0] += 1
                }
                m.lastNewSeenAt = max(m.lastNewSeenAt ?? .distantPast, Date(timeIntervalSince1970: message.firstSeenAt))
                guard
                    let arrival = message.arrivalAt
                        ?? (message.firstSeenAt > mergeFirstListed ? message.firstSeenAt : nil)
                else { continue }
                m.lastArrivalAt = max(m.lastArrivalAt ?? .distantPast, Date(timeIntervalSince1970: arrival))
                perDay[days.string(from: Date(timeIntervalSince1970: arrival)), default: 0] += 1
                if arrival >= cutoverEnd { m.arrivedAfterCutover += 1 }
            }
            m.stillReceivingAfterCutover = now.timeIntervalSince1970 >= cutoverEnd && m.arrivedAfterCutover > 0
            status.mailboxes[index] = m
        }
        status.arrivalsPerDay = perDay.sorted { $0.key < $1.key }.map {
            PlanStatus.DayCount(day: $0.key, count: $0.value)
        }
        status.errorsByCategory = errors
        return status
    }
}
