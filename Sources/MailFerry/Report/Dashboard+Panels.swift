import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The dashboard's chart panels: runs, errors by kind, and legacy arrivals per day.
extension Dashboard {
    /// The last runs (at most 40 shown) of `total` that left a report.
    static func runsChart(_ runs: [RunSummary], total: Int) -> String {
        guard !runs.isEmpty else { return "<p class=\"empty\">No run has finished yet.</p>" }
        let shown = runs.suffix(StateSummary.recentRuns)
        // Runs of one day are told apart by their time; longer spans by day and time.
        let oneDay = (shown.last?.startedAt.timeIntervalSince(shown.first?.startedAt ?? Date()) ?? 0) < 86_400
        let bars = shown.map { run in
            Charts.Bar(
                label: UTCDate.string(run.startedAt, oneDay ? .time : .monthDayMinute), value: run.delivered,
                tooltip: "run \(run.runID): \(run.delivered) delivered, \(run.deferred) deferred, "
                    + "\(run.failed) failed, exit \(run.exitCode)")
        }
        return Charts.bars(bars, width: 620, height: 250, color: "#3b6fd8", title: "Messages migrated per run")
            + (max(total, runs.count) > shown.count
                ? "<p class=\"note\">The last \(shown.count) of \(max(total, runs.count)) runs.</p>" : "")
    }

    static func errorsChart(_ status: PlanStatus) -> String {
        let rows = status.errorsByCategory.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        guard !rows.isEmpty else {
            return "<div class=\"allclear\"><span class=\"tick\">✓</span>No open problems: nothing deferred, failed "
                + "or quarantined, and every mailbox's last poll worked.</div>"
        }
        let palette = [
            "transient": "#e3a33b", "quota": "#d9822b", "permanent": "#d64545", "auth": "#b83280",
            "tls": "#8e5cc4", "protocol": "#5a67d8", "local": "#718096", "mailbox stopped": "#9b2c2c",
            "vanished": "#7f1d1d",
        ]
        return Charts.horizontal(
            rows.map { ($0.key, $0.value, palette[$0.key] ?? "#9aa5b4") },
            width: 480, title: "Errors by category")
    }

    /// The days the arrivals chart covers: the transition (or the arrivals), extended to today and to the last
    /// arrival, at most 400 days.
    static func arrivalDays(_ status: PlanStatus) -> (days: [String], before: Int) {
        let today = UTCDate.string(status.generatedAt, .day)
        let counts = status.arrivalsPerDay
        guard let first = status.transition.start ?? counts.first?.day else { return ([], 0) }
        let last =
            [status.transition.end, counts.last?.day, today].compactMap { $0 }.filter { $0 >= first }.max()
            ?? first
        guard var day = PlanStatus.day(first), let end = PlanStatus.day(last) else { return ([], 0) }
        day = max(day, end - 399 * 86_400)
        var days: [String] = []
        while day <= end {
            days.append(UTCDate.string(Date(timeIntervalSince1970: day), .day))
            day += 86_400
        }
        let before = counts.filter { $0.day < days.first ?? "" }.reduce(0) { $0 + $1.count }
        return (days, before)
    }

    static func arrivalsNote(_ status: PlanStatus) -> String {
        var note =
            "Messages the legacy servers received each day (the arrival recovered from their trace headers, "
            + "else when mailferry first saw them)."
        let (days, before) = arrivalDays(status)
        if before > 0, let first = days.first {
            note += " \(Charts.grouped(before)) older message\(before == 1 ? "" : "s") arrived before \(first)."
        }
        return note
    }

    static func arrivalsChart(_ status: PlanStatus) -> String {
        let (days, _) = arrivalDays(status)
        guard !days.isEmpty else { return "<p class=\"empty\">No legacy message seen yet.</p>" }
        let counts = Dictionary(uniqueKeysWithValues: status.arrivalsPerDay.map { ($0.day, $0.count) })
        let bars = days.map { day in
            Charts.Bar(
                label: String(day.dropFirst(5)), value: counts[day] ?? 0,
                tooltip: "\(day): \(counts[day] ?? 0) message\(counts[day] == 1 ? "" : "s")")
        }
        let today = UTCDate.string(status.generatedAt, .day)
        var markers: [Charts.Marker] = []
        let t = status.transition
        for (name, day, color) in [
            ("start", t.start, "#2563eb"), ("cutover", t.cutover, "#d97706"),
            ("end", t.end, "#6b7280"), ("today", today, "#111827"),
        ] {
            guard let day, let index = days.firstIndex(of: day) else { continue }
            markers.append(Charts.Marker(index: index, label: "\(name) \(day.dropFirst(5))", color: color))
        }
        // Markers on the same day would print over each other: keep the first.
        var seen = Set<Int>()
        markers = markers.filter { seen.insert($0.index).inserted }
        return Charts.bars(
            bars, height: 250, color: "#0f8f8a", markers: markers,
            xLabelEvery: max(1, days.count / 12), title: "Legacy arrivals per day")
    }
}
