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

/// Cron runs every few minutes for months: the run reports kept are bounded by `keepReports`.
@Suite(.serialized) struct ReportRetentionTests {
    @Test func pruneKeepsTheNewestRunsOfTheSameKindAndNothingElse() throws {
        let folder = TempFolder("prune")
        defer { folder.cleanup() }
        let own = ["20261120T080000.000Z", "20261121T080000.000Z", "20261121T081500.250Z", "20261122T000000.001Z"]
        let shard = ["20261120T090000.000Z-shard-1-of-4", "20261122T090000.000Z-shard-1-of-4"]
        let other = [
            "index.html", "verify.json", "notes.md", "2026-11-20.json", "20261120T080000.000Z.txt",
            "20261119T080000.000Z-shard-x-of-4.json",
        ]
        for run in own + shard {
            _ = folder.file("\(run).json", "{}")
            _ = folder.file("\(run).md", "#")
        }
        for name in other { _ = folder.file(name, "keep me") }
        // Only the JSON of the oldest own run is left of it: still one run.
        try FileManager.default.removeItem(atPath: folder.path + "/20261120T080000.000Z.md")

        let removed = ReportWriter.prune(folder: folder.path, keep: 2, like: "20261122T101010.101Z")
        #expect(removed == 3)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        let expected = Set(
            ["20261121T081500.250Z", "20261122T000000.001Z"].flatMap { ["\($0).json", "\($0).md"] }
                + shard.flatMap { ["\($0).json", "\($0).md"] } + other)
        #expect(left == expected)
        // A shard prunes its own runs only; 0 keeps everything.
        #expect(ReportWriter.prune(folder: folder.path, keep: 1, like: "20261123T000000.000Z-shard-1-of-4") == 2)
        #expect(ReportWriter.prune(folder: folder.path, keep: 0, like: "20261123T000000.000Z") == 0)
        // The run just written stays even when the clock went back and it sorts oldest.
        #expect(ReportWriter.prune(folder: folder.path, keep: 1, like: "20261121T081500.250Z") == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).count == expected.count - 2)
    }

    @Test func cronRunsKeepTheNewestReportsAndCountEveryRun() throws {
        let e2e = try EndToEnd("e2e-keep", counts: ["ivy": 4])
        let text = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
        try text.replacingOccurrences(of: "parallel: 3,", with: "parallel: 3, keepReports: 3,")
            .write(toFile: e2e.planFile, atomically: true, encoding: .utf8)
        var runIDs: [String] = []
        for _ in 0..<5 {
            let result = try e2e.run()
            #expect(result.code == 0, "\(result.out)\n\(result.err)")
            runIDs.append(try e2e.lastReport().runID)
            usleep(5_000)  // run ids are milliseconds apart at least
        }
        #expect(Set(runIDs).count == 5)
        let reports = e2e.workspace + "/reports/e2e"
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: reports))
        let kept = runIDs.suffix(3).flatMap { ["\($0).json", "\($0).md"] }
        #expect(files == Set(kept + ["index.html"]), "\(files.sorted())")
        let db = try Database(path: e2e.statePath)
        let rows = try db.prepare("SELECT run_id, summary IS NOT NULL FROM runs ORDER BY started_at").rows {
            ($0.text(0) ?? "", $0.int(1) == 1)
        }
        #expect(rows.map(\.0) == runIDs)
        #expect(rows.map(\.1) == [false, false, true, true, true])
        // The dashboard charts the runs whose reports are kept and still counts every run.
        let dashboard = try String(contentsOfFile: reports + "/index.html", encoding: .utf8)
        #expect(dashboard.contains("The last 3 of 5 runs."))
    }
}
