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

/// `mailferry status`: the cumulative view from the plan's state file and its shards.
@Suite struct StatusTests {
    @Test func shardFilesAreFoundBesideThePlansStateFile() throws {
        let dir = TempFolder("shards")
        defer { dir.cleanup() }
        for name in [
            "w.sqlite", "w-shard-0-of-2.sqlite", "w-shard-1-of-2.sqlite", "w-shard-2-of-2.sqlite",
            "w-shard-x-of-2.sqlite", "w-shard-0-of-3.sqlite", "other-shard-0-of-2.sqlite", "w-shard-1-of-2.lock",
        ] {
            _ = dir.file("state/\(name)", "")
        }
        let found = StateFiles.discover(statePath: dir.path + "/state/w.sqlite").map {
            ($0 as NSString).lastPathComponent
        }
        #expect(found == ["w.sqlite", "w-shard-0-of-2.sqlite", "w-shard-1-of-2.sqlite", "w-shard-0-of-3.sqlite"])
        // A shard's own state path stands for the same plan.
        #expect(StateFiles.discover(statePath: dir.path + "/state/w-shard-1-of-2.sqlite").count == 4)
        // Only shards: the plan's own file (never run unsharded) is not listed.
        try FileManager.default.removeItem(atPath: dir.path + "/state/w.sqlite")
        #expect(StateFiles.discover(statePath: dir.path + "/state/w.sqlite").count == 3)
    }

    @Test func mergedCountsAndTheCutoverFlag() throws {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        let status = try fixture.status()
        #expect(status.stateFiles.count == 2)
        let byKey = Dictionary(uniqueKeysWithValues: status.mailboxes.map { ($0.key, $0) })
        let chris = try #require(byKey["isp/chris"])
        // c4 is listed in the plan's file and delivered in the shard's: delivered wins.
        #expect((chris.onServer, chris.delivered, chris.pending, chris.deferred, chris.failed) == (6, 4, 1, 1, 0))
        #expect(chris.stillReceivingAfterCutover && chris.arrivedAfterCutover == 1)
        #expect(chris.lastArrivalAt == StatusFixture.at("2026-12-20T11:00:00Z"))
        // The most recent poll of the two files.
        #expect(chris.lastSuccessfulPollAt == StatusFixture.at("2026-12-21T09:00:00Z"))
        let kelly = try #require(byKey["isp/kelly"])
        #expect((kelly.delivered, kelly.failed, kelly.quarantined) == (1, 1, 1))
        #expect(!kelly.stillReceivingAfterCutover && kelly.lastError == StatusFixture.hostileError)
        let sam = try #require(byKey["isp/sam"])
        #expect((sam.delivered, sam.duplicate, sam.done) == (2, 1, 3))
        #expect(status.errorsByCategory == ["transient": 1, "permanent": 1, "quota": 1, "mailbox stopped": 1])
        #expect(status.totals.delivered == 7 && status.flagged.map(\.key) == ["isp/chris"])
        // Before the cutover nobody is flagged, whatever arrived.
        let early = PlanStatus(
            plan: try fixture.plan(), state: try StateFiles.read([fixture.statePath, fixture.shardPath]),
            now: StatusFixture.at("2026-12-10T00:00:00Z"))
        #expect(early.flagged.isEmpty)
    }

    /// The table a person reads, snapshotted.
    @Test func statusTable() throws {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        let text = StatusReport.text(try fixture.status(), workspace: fixture.workspace)
        try GoldenTests.compare(text, with: "status/table.expected")
    }

    /// The real binary: the plan's state and its shard by default, `--state` to name files, JSON output.
    @Test func statusCommandReadsShardsOrTheNamedFiles() throws {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        let all = try Self.mailferry(["status", "jobs/fixture.json5", "--json"], in: fixture.workspace)
        #expect(all.code == 0, "\(all.err)")
        let decoded = try Self.decode(all.out)
        #expect(decoded.stateFiles.count == 2 && decoded.totals.delivered == 7)
        let one = try Self.mailferry(
            ["status", "jobs/fixture.json5", "--json", "--state", "state/fixture.sqlite"],
            in: fixture.workspace)
        #expect(one.code == 0, "\(one.err)")
        let partial = try Self.decode(one.out)
        #expect(partial.stateFiles.count == 1 && partial.totals.delivered == 4)
        #expect(partial.mailboxes.first { $0.key == "isp/sam" }?.lastPollAt == nil)
        let html = try Self.mailferry(["status", "jobs/fixture.json5", "--html"], in: fixture.workspace)
        #expect(html.code == 0 && html.out.contains("dashboard: reports/fixture/index.html"), "\(html.out)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/reports/fixture/index.html"))
        let missing = try Self.mailferry(
            ["status", "jobs/fixture.json5", "--state", "state/nope.sqlite"],
            in: fixture.workspace)
        #expect(missing.code == 2 && missing.err.contains("no such file"))
    }

    /// Nothing has run yet: a clear message and exit 1, and no state file is created.
    @Test func noStateYet() throws {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        for path in [fixture.statePath, fixture.shardPath] { try FileManager.default.removeItem(atPath: path) }
        for command in ["status", "verify"] {
            let result = try Self.mailferry([command, "jobs/fixture.json5"], in: fixture.workspace)
            #expect(result.code == 1)
            #expect(
                result.err.contains("no state yet for plan fixture: state/fixture.sqlite does not exist"),
                "\(result.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.statePath))
    }

    static func mailferry(_ arguments: [String], in dir: String) throws -> (code: Int32, out: String, err: String) {
        try EndToEnd.mailferry(arguments, in: dir, environment: ["FIXTURE_PW": "unused"])
    }

    static func decode(_ json: String) throws -> PlanStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(PlanStatus.self, from: Data(json.utf8))
    }
}
