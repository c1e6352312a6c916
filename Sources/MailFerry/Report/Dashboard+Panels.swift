import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The dashboard's chart panels: runs, errors by kind, and legacy arrivals per day.
extension Dashboard {
    /// The last runs (at most 40 shown) of `total` that left a report. Each bar is labelled with its day and time
    /// (UTC), to the second or the millisecond when runs close together would otherwise read the same; a run that
    /// did not end with exit 0 is drawn in amber with its exit code above it.
    static func runsChart(_ runs: [RunSummary], total: Int) -> String {
        guard !runs.isEmpty else { return "<p class=\"empty\">No run has finished yet.</p>" }
        let shown = Array(runs.suffix(StateSummary.recentRuns))
        let times = runTimes(shown)
        let bars = zip(shown, times).map { run, time in
            Charts.Bar(
                label: UTCDate.string(run.startedAt, .day), value: run.delivered,
                tooltip: "run \(run.runID): \(run.delivered) delivered, \(run.deferred) deferred, "
                    + "\(run.failed) failed, exit \(run.exitCode)", sublabel: time,
                color: run.exitCode == 0 ? nil : "#e3a33b", note: run.exitCode == 0 ? nil : "exit \(run.exitCode)")
        }
        let more = max(total, runs.count)
        return Charts.bars(bars, width: 620, height: 260, color: "#3b6fd8", title: "Messages migrated per run")
            + (more > shown.count ? "<p class=\"note\">The last \(shown.count) of \(more) runs.</p>" : "")
    }

    /// The start of each run as the chart labels it: hours and minutes; with seconds for a run that started in the
    /// same minute of the same day as another; with milliseconds (from the run id, 20261221T171839.123Z) for one
    /// that started in the same second as another.
    static func runTimes(_ runs: [RunSummary]) -> [String] {
        let seconds = runs.map { UTCDate.string($0.startedAt, .iso8601) }
        func shared(_ length: Int) -> Set<Substring> {
            var seen: [Substring: Int] = [:]
            for text in seconds { seen[text.prefix(length), default: 0] += 1 }
            return Set(seen.filter { $0.value > 1 }.keys)
        }
        // 2026-12-21T17:18:39Z: the minute is the first 16 characters, the second the first 19.
        let sameMinute = shared(16)
        let sameSecond = shared(19)
        return zip(runs, seconds).map { run, text in
            let time = UTCDate.string(run.startedAt, .time)
            guard sameMinute.contains(text.prefix(16)) else { return String(time.prefix(5)) }
            guard sameSecond.contains(text.prefix(19)), let dot = run.runID.firstIndex(of: "."),
                run.runID[dot...].count >= 4
            else { return time }
            return time + run.runID[dot...].prefix(4)
        }
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
            note +=
                " \(Charts.grouped(before)) older \(pluralized("message", count: before)) arrived before \(first)."
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
                tooltip: "\(day): " + counted(counts[day] ?? 0, "message"))
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
