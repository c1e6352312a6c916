import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The state database's integrity (issue 16): a run refuses a damaged state before any mail moves (exit 2), and
/// verify reports SQLite's integrity_check.
@Suite struct StateIntegrityTests {
    /// Overwrites the page of the state file that holds the root of the messages table with garbage (the run that
    /// wrote it has ended, so its write-ahead log is folded back into the file).
    static func damageMessagesTable(_ path: String) throws {
        let (pageSize, root): (Int, Int) = try {
            let db = try Database(path: path)
            return try withExtendedLifetime(db) {
                let size = try db.prepare("PRAGMA page_size").rows { Int($0.int(0)) }.first ?? 4096
                let root =
                    try db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'messages'")
                    .rows { Int($0.int(0)) }.first ?? 2
                return (size, root)
            }
        }()
        let log = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(log == 0, "the run left its write-ahead log: the damage would not be where SQLite reads")
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64((root - 1) * pageSize))
        try handle.write(contentsOf: Data((0..<pageSize).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
        try handle.synchronize()
    }

    /// A real state, damaged in the middle: the next run stops before any login (exit 2), names the file, quotes
    /// SQLite and says what to do; the new message on the server stays undelivered. verify says the same, exit 1.
    @Test func damagedStateStopsTheRunAndFailsVerify() throws {
        let e2e = try EndToEnd("integrity", counts: ["alice": 30])
        let first = try e2e.run()
        #expect(first.code == 0, "\(first.out) \(first.err)")
        try e2e.lab.seed(
            user: "alice",
            messages: Corpus.mailbox(
                user: "alice", domain: "wingtip.example", count: 3,
                seed: 77, bigAttachment: false))
        try Self.damageMessagesTable(e2e.statePath)
        let delivered = e2e.deliveredCount()

        let run = try e2e.run()
        #expect(run.code == 2, "\(run.out) \(run.err)")
        #expect(
            run.err.contains("mailferry run: the state database ")
                && run.err.contains(
                    "e2e.sqlite is damaged: "
                        + "SQLite's quick_check says\n  "),
            "\(run.err)")
        #expect(run.err.contains("Nothing was run and no mail moved"), "\(run.err)")
        #expect(run.err.contains("mailferry backup") && run.err.contains("mailferry adopt"), "\(run.err)")
        #expect(e2e.deliveredCount() == delivered, "a run on a damaged state delivered mail")

        let verify = try VerifyEndToEndTests.verify(e2e)
        #expect(verify.code == 1, "\(verify.out) \(verify.err)")
        #expect(verify.out.contains("integrity_check found damage:"), "\(verify.out)")
        #expect(
            verify.out.contains(
                "verify: the state database is damaged (SQLite's integrity_check): nothing was "
                    + "verified"), "\(verify.out)")
        let json = try VerifyEndToEndTests.verify(e2e, ["--json"])
        #expect(json.code == 1 && json.report?.damagedState.count == 1, "\(json.out)")
    }

    /// A file that is no database at all: the run says so and exits 2, delivering nothing; verify exits 1.
    @Test func garbageStateStopsTheRun() throws {
        let e2e = try EndToEnd("integrity-garbage", counts: ["bob": 5])
        try FileManager.default.createDirectory(atPath: e2e.workspace + "/state", withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: e2e.statePath))
        let run = try e2e.run()
        #expect(run.code == 2, "\(run.out) \(run.err)")
        #expect(run.err.contains("is damaged") && run.err.contains("file is not a database"), "\(run.err)")
        #expect(e2e.deliveredCount() == 0)
        let verify = try VerifyEndToEndTests.verify(e2e)
        #expect(verify.code == 1 && verify.out.contains("integrity_check found damage"), "\(verify.out)")
    }

    /// A clean state: verify prints integrity_check's "ok" before its verdict and exits 0.
    @Test func verifyReportsASoundState() throws {
        let e2e = try EndToEnd("integrity-ok", counts: ["carol": 4])
        #expect(try e2e.run().code == 0)
        let verify = try VerifyEndToEndTests.verify(e2e)
        #expect(verify.code == 0, "\(verify.out) \(verify.err)")
        #expect(
            verify.out.contains("e2e.sqlite: integrity_check ok\nverify: all 4 messages"),
            "\(verify.out)")
    }

    /// When a run checks a state too large to check every time: after a run that did not finish, and on every
    /// 100th run; not otherwise.
    @Test func largeStatesAreCheckedAfterAnUnfinishedRunAndEveryHundredthRun() throws {
        let folder = TempFolder("integrity-policy")
        defer { folder.cleanup() }
        let path = folder.path + "/state/p.sqlite"
        do {
            let store = try Store(path: path)
            try store.startRun(id: "r0")
        }
        // The run r0 never finished: checked.
        #expect(try StateIntegrity.beforeRun(path: path, smallBytes: 0)?.ok == true)
        do {
            let store = try Store(path: path)
            try store.finishRun(id: "r0", exitCode: 0, summaryJSON: "{}")
            try store.startRun(id: "r1")
            try store.finishRun(id: "r1", exitCode: 0, summaryJSON: "{}")
        }
        #expect(try StateIntegrity.beforeRun(path: path, smallBytes: 0) == nil)
        // A small state is checked every time.
        #expect(try StateIntegrity.beforeRun(path: path)?.ok == true)
        do {
            let store = try Store(path: path)
            for n in 2..<StateIntegrity.checkEveryRuns {
                try store.startRun(id: "r\(n)")
                try store.finishRun(id: "r\(n)", exitCode: 0, summaryJSON: "{}")
            }
        }
        #expect(try StateIntegrity.beforeRun(path: path, smallBytes: 0)?.ok == true)
        // No state yet: nothing to check.
        #expect(try StateIntegrity.beforeRun(path: folder.path + "/state/none.sqlite") == nil)
    }
}
