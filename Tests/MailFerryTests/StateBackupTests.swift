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

/// `mailferry backup` (issue 16): a consistent copy of the state, taken with SQLite's online backup API while a
/// run is writing it.
@Suite struct StateBackupTests {
    /// `backup` while a run is delivering (no lock taken): the copy passes integrity_check, is 0600, and is a
    /// consistent prefix of the run (every row it says is delivered has its Maildir file). An existing FILE is
    /// kept unless --force.
    @Test func backupDuringARunIsConsistent() throws {
        let e2e = try EndToEnd("integrity-backup", counts: ["alice": 150, "bob": 150], bigAttachmentFor: "alice")
        let child = try e2e.start()
        defer { child.removeOutput() }
        let deadline = Date().addingTimeInterval(120)
        while e2e.deliveredCount() < 40 && Date() < deadline && child.wait(timeout: 0) == nil { usleep(2_000) }
        let file = e2e.workspace + "/backups/e2e.sqlite"
        try FileManager.default.createDirectory(atPath: e2e.workspace + "/backups", withIntermediateDirectories: true)
        let backup = try EndToEnd.mailferry(["backup", e2e.planFile, file])
        let stillRunning = child.wait(timeout: 0) == nil
        #expect(backup.code == 0, "\(backup.out) \(backup.err)")
        #expect(backup.out.contains("quick_check ok"), "\(backup.out)")
        #expect(child.wait(timeout: 180) == 0, "\(child.stdout) \(child.stderr)")
        if !stillRunning { print("backupDuringARunIsConsistent: the run ended before the backup did") }

        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try StateIntegrity.run(.full, path: file).ok)
        #expect(!FileManager.default.fileExists(atPath: file + "-wal"))
        // A prefix of the run: what the copy says is delivered is in the Maildir; the rest is in doubt or waiting.
        var settled = 0
        for user in ["alice", "bob"] {
            for row in try e2e.rows(user, state: file) where ["delivered", "delivering"].contains(row.state) {
                settled += 1
                guard row.state == "delivered" else { continue }
                #expect(
                    FileManager.default.fileExists(atPath: e2e.maildir(user) + "/" + (row.ref ?? "?")),
                    "\(user) \(row.uidl): delivered in the backup, no file")
            }
        }
        #expect(settled > 0 || !stillRunning, "the copy holds none of the run's progress")
        let midRun = e2e.workspace + "/mid-run.sqlite"
        try FileManager.default.copyItem(atPath: file, toPath: midRun)

        let again = try EndToEnd.mailferry(["backup", e2e.planFile, file])
        #expect(again.code == 2 && again.err.contains("exists; give --force to replace it"), "\(again.err)")
        let forced = try EndToEnd.mailferry(["backup", e2e.planFile, file, "--force"])
        #expect(forced.code == 0, "\(forced.err)")
        #expect(try e2e.rows("alice", state: file).filter { $0.state == "delivered" }.count == 150)
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o600)
        // Nothing left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: e2e.workspace + "/backups") == ["e2e.sqlite"])

        // Restored (docs/operations.md): the mid-run copy put back over the state, a run settles what it left in
        // doubt with the Maildir and delivers the rest; every message is there exactly once, and verify agrees.
        for stale in [e2e.statePath, e2e.statePath + "-wal", e2e.statePath + "-shm"] {
            try? FileManager.default.removeItem(atPath: stale)
        }
        try FileManager.default.copyItem(atPath: midRun, toPath: e2e.statePath)
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out) \(rerun.err)")
        for user in ["alice", "bob"] { try e2e.expectExactlyOnce(user) }
        #expect(try VerifyEndToEndTests.verify(e2e).code == 0)
    }
}
