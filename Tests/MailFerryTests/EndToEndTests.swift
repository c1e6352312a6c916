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

/// mailferry against a real Dovecot on 127.0.0.1, through the real binary. Serialized: each test moves hundreds of
/// messages and the machine has two cores.
@Suite(.serialized) struct EndToEndTests {
    @Test func migratesThreeMailboxesByteForByteAndLeavesACopy() throws {
        let e2e = try EndToEnd(
            "e2e-migrate", counts: ["alice": 200, "bob": 200, "carol": 200],
            bigAttachmentFor: "bob")
        let first = try e2e.run()
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        #expect(first.out.contains("done: 3 mailboxes, 600 messages delivered"), "\(first.out)")
        for user in ["alice", "bob", "carol"] {
            // Byte for byte against what Dovecot serves now, which also proves every message is still there.
            try e2e.expectExactlyOnce(user)
            #expect(try e2e.serverMessages(user).count == 200)
        }
        let report = try e2e.lastReport()
        #expect(report.delivered == 600 && report.exitCode == 0)
        #expect(report.mailboxes.map(\.onServer) == [200, 200, 200])

        let started = Date()
        let second = try e2e.run()
        let seconds = Date().timeIntervalSince(started)
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        #expect(second.out.contains("done: 3 mailboxes, 0 messages delivered"), "\(second.out)")
        #expect(try e2e.lastReport().delivered == 0)
        #expect(e2e.deliveredCount() == 600)
        print("second run (nothing new, 3 × 200 messages): \(String(format: "%.3f", seconds)) s")

        let quiet = try e2e.run(["--quiet"])
        #expect(quiet.code == 0 && quiet.out.isEmpty && quiet.err.isEmpty, "\(quiet.out)\(quiet.err)")
    }

    @Test func starttlsSourceWorksToo() throws {
        let e2e = try EndToEnd("e2e-stls", counts: ["dave": 20], tls: .starttls)
        let result = try e2e.run()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        try e2e.expectExactlyOnce("dave")
    }

    @Test func sigkillMidMigrationThenRerunDeliversEachMessageOnce() throws {
        let e2e = try EndToEnd(
            "e2e-kill", counts: ["alice": 200, "bob": 200, "carol": 200],
            bigAttachmentFor: "alice")
        var kills = 0
        // Kill at three different depths of the migration, then let it finish.
        for threshold in [40, 250, 430] {
            let child = try e2e.start()
            let deadline = Date().addingTimeInterval(120)
            while e2e.deliveredCount() < threshold && Date() < deadline && child.wait(timeout: 0) == nil {
                usleep(2_000)
            }
            if child.wait(timeout: 0) == nil {
                child.kill9()
                kills += 1
            }
            child.removeOutput()
        }
        #expect(kills >= 2, "the migration finished before it could be killed")
        let final = try e2e.run()
        #expect(final.code == 0, "\(final.out)\n\(final.err)")
        for user in ["alice", "bob", "carol"] {
            try e2e.expectExactlyOnce(user)
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func signalStopsCleanlyWithReportThenRerunCompletes(signal: Int32) throws {
        let e2e = try EndToEnd(
            "e2e-signal", counts: ["alice": 200, "bob": 200, "carol": 200],
            bigAttachmentFor: "bob")
        let tracePath = e2e.workspace + "/signal-trace.log"
        let child = try e2e.start(["--trace", tracePath])
        defer { child.removeOutput() }
        let deadline = Date().addingTimeInterval(120)
        // Mid-migration, with every mailbox's session under way (each has delivered something).
        func underWay() -> Bool {
            e2e.deliveredCount() >= 100 && ["alice", "bob", "carol"].allSatisfy { e2e.deliveredCount($0) > 0 }
        }
        while !underWay() && Date() < deadline && child.wait(timeout: 0) == nil { usleep(1_000) }
        let sentAt = Date()
        child.signal(signal)
        let code = child.wait(timeout: 20)
        let stopSeconds = Date().timeIntervalSince(sentAt)
        #expect(code == 128 + signal, "\(child.stdout)\n\(child.stderr)")
        #expect(stopSeconds < 5, "took \(stopSeconds) s to stop")
        #expect(child.stdout.contains("interrupted: 3 mailboxes"), "\(child.stdout)")
        let report = try e2e.lastReport()
        #expect(report.interrupted && report.exitCode == 128 + signal)
        #expect(report.delivered == e2e.deliveredCount(), "the report counts what is in the target")
        #expect(report.delivered < 600 && report.pending > 0)
        // Each POP3 session ended with the client's QUIT (answered), and no DELE was ever sent: QUIT after no DELE
        // removes nothing (RFC 1939 §6). The trace holds no password.
        let trace = (try? String(contentsOfFile: tracePath, encoding: .utf8)) ?? ""
        for user in ["alice", "bob", "carol"] {
            let session = trace.split(separator: "\n").filter { $0.contains(" isp/\(user) pop3 ") }
            let commands = session.compactMap { line in line.range(of: " C: ").map { String(line[$0.upperBound...]) } }
            #expect(commands.contains { $0.hasPrefix("RETR ") }, "\(user): \(commands.prefix(5))")
            #expect(commands.last == "QUIT", "\(user): the session's last commands are \(commands.suffix(3))")
            #expect(session.last?.contains(" S: +OK") == true, "\(user): QUIT unanswered: \(session.suffix(2))")
        }
        #expect(!trace.contains(" C: DELE"), "a DELE in the trace")
        for (user, password) in e2e.users {
            #expect(!trace.contains(password), "\(user)'s password is in the trace")
        }
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        #expect(try e2e.lastReport().delivered == 600 - report.delivered)
        for user in ["alice", "bob", "carol"] { try e2e.expectExactlyOnce(user) }
    }

    /// Each named crash point, hit once mid-run: the rerun completes with every message exactly once. A run stages
    /// Maildir deliveries in batches (written into tmp/, then synced, renamed into new/ and checkpointed together),
    /// so what the kill left is read off the state and the Maildir: a file visible in new/ whose row is not yet
    /// "delivered" is what the rerun's reconciliation must find; everything else is delivered again, once. The
    /// "delivering" checkpoints of a batch are committed together too, before its flush makes anything visible
    /// (the crash point "after-delivering-commit" is hit once each is known durable): so no file is ever visible
    /// without its checkpoint.
    @Test(arguments: [
        ("after-retr", 7), ("after-delivering-commit", 7), ("maildir-before-rename", 7),
        ("after-target-ack", 1),
    ])
    func crashPointThenRerun(point: String, hit: Int) throws {
        let e2e = try EndToEnd("e2e-crash", counts: ["erin": 30])
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "\(point)@\(hit)"])
        #expect(crashed.code == 128 + SIGKILL, "\(point): \(crashed.out) \(crashed.err)")
        let rows = try e2e.rows("erin")
        let delivered = rows.filter { $0.state == "delivered" }.count
        let inDoubt = rows.filter { $0.state == "delivering" }.count
        let visible = e2e.deliveredFiles("erin").count
        switch point {
        case "after-retr":
            // The 7th message was retrieved, not yet attempted; the six before it were (staged, their checkpoints
            // perhaps not yet committed).
            #expect(delivered + inDoubt <= 6, "\(point)")
        case "after-delivering-commit":
            // The 7th checkpoint known durable: the batch's others may be committed with it.
            #expect(delivered + inDoubt >= 7, "\(point)")
        case "maildir-before-rename":
            // Killed before the 7th rename: six files made it into new/.
            #expect(visible == 6, "\(point)")
        default:
            // Killed once the first batch was durable in new/, before any of its checkpoints was committed.
            #expect(delivered == 0 && visible > 0 && inDoubt == visible, "\(point): \(delivered) \(visible) \(inDoubt)")
        }
        #expect(visible >= delivered, "\(point): every delivered row has its file")
        #expect(visible <= delivered + inDoubt, "\(point): every visible file has its checkpoint")
        let rerun = try e2e.run()
        #expect(rerun.code == 0, "\(rerun.out)\n\(rerun.err)")
        try e2e.expectExactlyOnce("erin")
        let report = try e2e.lastReport()
        #expect(report.reconciled == visible - delivered, "\(point)")
        #expect(report.delivered == 30 - visible, "\(point)")
    }

    @Test func wrongPasswordIsReportedAndExitsOne() throws {
        let e2e = try EndToEnd("e2e-auth", counts: ["frank": 3])
        _ = FileManager.default.createFile(
            atPath: e2e.folder.path + "/secrets/frank", contents: Data("wrong\n".utf8),
            attributes: [.posixPermissions: 0o600])
        let result = try e2e.run()
        #expect(result.code == 1)
        // The lab offers CRAM-MD5, the strongest password method, which the client prefers; the refusal says [AUTH].
        #expect(
            result.out.contains(
                "stopped: pop3 127.0.0.1:\(e2e.lab.ports.pop3s): AUTH CRAM-MD5 as frank "
                    + "refused: [AUTH] Authentication failed."), "\(result.out)")
        #expect(try e2e.lastReport().mailboxes.first?.errorKind == .auth)
        #expect(!result.out.contains("wrong") && !result.err.contains("wrong"))
        #expect(e2e.deliveredCount() == 0)
    }

    @Test func untrustedCertificateIsRefusedBeforeLogin() throws {
        let e2e = try EndToEnd("e2e-tls", counts: ["gina": 2])
        // Trust the system store only: the lab's CA is not in it.
        let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
            .replacingOccurrences(of: "caFile: \"\(e2e.lab.caFile.path)\",", with: "")
        try plan.write(toFile: e2e.planFile, atomically: true, encoding: .utf8)
        let result = try e2e.run()
        #expect(result.code == 1)
        #expect(result.out.contains("certificate verify failed"), "\(result.out)")
    }

    @Test func secondRunWhileOneHoldsTheLockExits75() throws {
        let e2e = try EndToEnd("e2e-lock", counts: ["hank": 1])
        try FileManager.default.createDirectory(atPath: e2e.workspace + "/state", withIntermediateDirectories: true)
        let lockedAt = Date()
        let holder = try PlanLock(path: e2e.statePath + ".lock")
        let started = Date()
        let result = try e2e.run()
        let seconds = Date().timeIntervalSince(started)
        #expect(result.code == 75)
        // The holder never lets go: a run waiting for the lock would never end. (A bound well above a loaded
        // machine's start-up time.)
        #expect(seconds < 10, "the second run took \(seconds) s to give up; it must not wait for the lock")
        #expect(
            result.err.contains("another mailferry run holds \(e2e.statePath).lock (pid \(getpid()) since "),
            "\(result.err)")
        // "since <ISO 8601 time>": when the holder took the lock, to the second.
        let since = result.err.range(of: " since ").map { result.err[$0.upperBound...].prefix { $0 != ")" } } ?? ""
        let taken = ISO8601DateFormatter().date(from: String(since))
        #expect(
            taken.map { $0 >= lockedAt.addingTimeInterval(-1) && $0 <= started.addingTimeInterval(1) } == true,
            "holder since \(since), locked at \(lockedAt)")
        #expect(
            e2e.deliveredCount() == 0 && !FileManager.default.fileExists(atPath: e2e.statePath),
            "the locked-out run touched nothing")
        withExtendedLifetime(holder) {}
    }
}

extension EndToEndTests {
    /// A server that is down is transient trouble: counted apart from failures, and the next run tries again.
    @Test func closedPortIsDeferredNotStopped() throws {
        let e2e = try EndToEnd("e2e-down", counts: ["lena": 2])
        e2e.lab.stop()
        let result = try e2e.run()
        #expect(result.code == 1)
        #expect(result.out.contains("deferred (transient, retried next run): pop3 127.0.0.1:"), "\(result.out)")
        #expect(result.out.contains("1 mailbox deferred (transient)"), "\(result.out)")
        #expect(!result.out.contains("stopped"), "\(result.out)")
        #expect(try e2e.lastReport().mailboxes.first?.errorKind == .transient)
    }
}
