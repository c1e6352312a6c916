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

/// `run --shard K/N`: a stable partition of a plan's mailboxes, each shard with its own state file.
@Suite struct ShardTests {
    static func keys(_ count: Int) -> [String] {
        (0..<count).map { "source\($0 % 3)/user-\($0)" } + ["isp/everyone", "isp/chris", "other/ünïcode"]
    }

    @Test(arguments: [1, 2, 3, 4, 7, 16, 64])
    func everyMailboxIsInExactlyOneShard(count: Int) throws {
        let shards = try (0..<count).map { try Shard(index: $0, count: count) }
        for key in Self.keys(500) {
            #expect(shards.filter { $0.contains(mailboxKey: key) }.count == 1, "\(key) with N = \(count)")
        }
        if count <= 4 {
            // 500 mailboxes spread over every shard, none of them empty.
            for shard in shards {
                #expect(Self.keys(500).filter { shard.contains(mailboxKey: $0) }.count > 500 / count / 2)
            }
        }
    }

    @Test func theHashIsPinned() throws {
        // FNV-1a 64 of "source/user": a mailbox never changes shard between versions or machines (its checkpoints
        // are in that shard's state file).
        #expect(Shard.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(Shard.fnv1a("isp/alice") == 0xc168_ceee_b8e2_8438)
        #expect(Shard.fnv1a("isp/bob") == 0xb2d3_dce2_3b67_95fb)
        #expect(try Shard(index: 0, count: 2).contains(mailboxKey: "isp/alice"))
        #expect(try Shard(index: 3, count: 4).contains(mailboxKey: "isp/bob"))
    }

    @Test func aPlanShardKeepsEveryMailboxForRoutingButRunsOnlyItsOwn() throws {
        let dir = TempFolder("shard-plan")
        defer { dir.cleanup() }
        var plan = try PlanLoader.load(dir.file("jobs/p.json5", Self.planText))
        plan.statePath = "/ws/state/p.sqlite"
        let all = Set(plan.mailboxes.map(\.key))
        var seen: [String] = []
        for k in 0..<3 {
            let sharded = plan.sharded(try Shard(index: k, count: 3))
            #expect(sharded.statePath == "/ws/state/p-shard-\(k)-of-3.sqlite")
            #expect(sharded.mailboxes.count == plan.mailboxes.count)
            seen += sharded.selectedMailboxes.map(\.key)
        }
        #expect(seen.count == all.count && Set(seen) == all)
        #expect(plan.selectedMailboxes.count == plan.mailboxes.count)
        #expect(try Shard(index: 1, count: 2).statePath(forPlanState: "state/x.db") == "state/x.db-shard-1-of-2.sqlite")
    }

    @Test func parsing() throws {
        #expect(try Shard(parsing: "0/1") == Shard(index: 0, count: 1))
        #expect(try Shard(parsing: "7/8") == Shard(index: 7, count: 8))
        for bad in ["3/3", "x", "1", "1/", "/2", "-1/2", "1/0", "1/2/3", "١/٢", " 1/2"] {
            #expect(throws: ShardError.self, "\(bad)") { try Shard(parsing: bad) }
        }
    }

    @Test func mixingShardedAndWholeRunsIsRefused() throws {
        let dir = TempFolder("shard-mixing")
        defer { dir.cleanup() }
        let state = dir.path + "/state/p.sqlite"
        try FileManager.default.createDirectory(atPath: dir.path + "/state", withIntermediateDirectories: true)
        #expect(Shard.mixingProblem(shard: nil, planState: state) == nil)
        #expect(Shard.mixingProblem(shard: try Shard(index: 0, count: 2), planState: state) == nil)
        _ = FileManager.default.createFile(atPath: dir.path + "/state/p-shard-1-of-2.sqlite", contents: Data())
        #expect(Shard.existingStateFiles(forPlanState: state).map(\.shard) == [try Shard(index: 1, count: 2)])
        #expect(Shard.mixingProblem(shard: try Shard(index: 0, count: 2), planState: state) == nil)
        #expect(Shard.mixingProblem(shard: nil, planState: state)?.contains("--shard K/2") == true)
        #expect(
            Shard.mixingProblem(shard: try Shard(index: 0, count: 3), planState: state)?
                .contains("Keep --shard K/2") == true)
        _ = FileManager.default.createFile(atPath: state, contents: Data())
        #expect(
            Shard.mixingProblem(shard: try Shard(index: 0, count: 2), planState: state)?
                .contains("without --shard") == true)
    }

    static let planText = """
        {
          plan: "p",
          sources: { isp: { host: "pop.example" } },
          targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
          defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
          mailboxes: [
            { user: "alice", password: { env: "A" } }, { user: "bob", password: { env: "B" } },
            { user: "carol", password: { env: "C" } }, { user: "dave", password: { env: "D" } },
            { user: "erin", password: { env: "E" } }, { user: "frank", password: { env: "F" } },
            { user: "everyone", password: { env: "G" }, global: { domains: ["wingtip.example"],
              rewrite: "{local}@contoso.example", fallback: "postmaster@contoso.example" } },
          ],
        }
        """
}

/// Two shards of one plan against a real Dovecot: everything arrives exactly once, each shard's checkpoints in its
/// own state file; a run without --shard afterwards is refused.
@Suite(.serialized) struct ShardEndToEndTests {
    @Test func twoShardsDeliverEverythingOnceIntoSeparateStateFiles() throws {
        // With N = 2: alice and dave are shard 0, bob and carol shard 1 (see the pinned hash).
        let users = ["alice", "bob", "carol", "dave"]
        let e2e = try EndToEnd("e2e-shard", counts: Dictionary(uniqueKeysWithValues: users.map { ($0, 60) }))
        let stem = e2e.workspace + "/state/e2e"
        for k in 0..<2 {
            let result = try e2e.run(["--shard", "\(k)/2"])
            #expect(result.code == 0, "\(result.out)\n\(result.err)")
            #expect(result.out.contains("shard \(k)/2 of 4 mailboxes, 2 mailboxes"), "\(result.out)")
            #expect(result.out.contains("done: 2 mailboxes, 120 messages delivered"), "\(result.out)")
            #expect(result.out.contains("-shard-\(k)-of-2"), "\(result.out)")
        }
        #expect(!FileManager.default.fileExists(atPath: e2e.statePath))
        for user in users {
            let mine = Shard.fnv1a("isp/\(user)") % 2
            let state = "\(stem)-shard-\(mine)-of-2.sqlite"
            try e2e.expectExactlyOnce(user, state: state)
            #expect(try e2e.rows(user, state: "\(stem)-shard-\(1 - mine)-of-2.sqlite").isEmpty)
        }
        let report = try e2e.lastReport()
        #expect(report.shard == "1/2" && report.runID.hasSuffix("-shard-1-of-2"))
        #expect(Set(report.mailboxes.map(\.key)) == ["isp/bob", "isp/carol"])

        let again = try e2e.run(["--shard", "0/2"])
        #expect(again.code == 0 && again.out.contains("0 messages delivered"), "\(again.out)\n\(again.err)")

        let whole = try e2e.run()
        #expect(whole.code == 2, "\(whole.out)\n\(whole.err)")
        #expect(whole.err.contains("has been run in shards") && whole.err.contains("--shard K/2"), "\(whole.err)")
        let resharded = try e2e.run(["--shard", "0/3"])
        #expect(resharded.code == 2 && resharded.err.contains("Keep --shard K/2"), "\(resharded.err)")
        #expect(!FileManager.default.fileExists(atPath: e2e.statePath))
        #expect(e2e.deliveredCount() == 240)
    }
}
