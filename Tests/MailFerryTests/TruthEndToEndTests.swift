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

/// What an operator sees is true (issue 19), through the real binary against a real Dovecot: the exit code and
/// the closing line come from the state, and what no rerun fixes (a folder that cannot be written, a CA file that
/// is none) stops a run before its first connection, with the path and the cause in one sentence.
@Suite(.serialized) struct TruthEndToEndTests {
    /// Point 1: the IMAP admin password is wrong while new mail waits, then fixed and the run repeated at once.
    /// The message the refused login deferred waits for its next try (5 minutes), so the rerun delivers the rest
    /// and still exits 1, and its closing line, its report and `status` all count that message deferred. Once its
    /// next try is due, a run delivers it and exits 0.
    @Test func aMessageWaitingForItsNextTryKeepsTheRunAtExit1() throws {
        let e2e = try EndToEnd("truth-deferred", counts: ["chris": 3], kind: .imap)
        let secret = e2e.workspace + "/secrets/admin"
        try "not-the-password\n".write(toFile: secret, atomically: false, encoding: .utf8)
        let refused = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(refused.code == 1, "\(refused.out)\n\(refused.err)")
        let afterRefusal = try Truth.states(e2e)
        let deferred = afterRefusal["deferred"] ?? 0
        #expect(deferred >= 1, "\(afterRefusal)")

        try (DovecotLab.masterPassword + "\n").write(toFile: secret, atomically: false, encoding: .utf8)
        let rerun = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        let lines = Truth.unstamped(rerun.out)
        #expect(rerun.code == 1, "\(rerun.out)\n\(rerun.err)")
        #expect(try Truth.states(e2e) == ["delivered": 3 - deferred, "deferred": deferred])
        let plural = 3 - deferred == 1 ? "" : "s"
        #expect(
            lines.map(Truth.normalised).contains(
                "done: 1 mailbox, \(3 - deferred) message\(plural) delivered (S) in T s; \(deferred) deferred; exit 1"),
            "\(lines)")
        #expect(
            lines.contains { $0.contains(", \(deferred) deferred earlier (waiting for their next try)") }, "\(lines)")
        let report = try String(
            contentsOfFile: e2e.workspace + "/reports/e2e/\(try e2e.lastReport().runID).md", encoding: .utf8)
        #expect(
            report.contains(
                "- outcome: incomplete (exit 1): not yet delivered: \(deferred) deferred; a later run goes on with them"
            ),
            "\(report)")
        #expect(report.contains("deferred: \(deferred); failed: 0; quarantined: 0;"), "\(report)")
        #expect(report.contains("left for a later run: \(deferred)\n"), "\(report)")
        #expect(try e2e.lastReport().exitCode == 1)
        let status = try EndToEnd.mailferry(["status", "jobs/e2e.json5", "--json"], in: e2e.workspace)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let plan = try decoder.decode(PlanStatus.self, from: Data(status.out.utf8))
        #expect(plan.totals.deferred == deferred && plan.totals.delivered == 3 - deferred, "\(status.out)")

        // The backoff over (as the clock would have it five minutes later).
        try Database(path: e2e.statePath).execute("UPDATE messages SET next_try_at = 0 WHERE state = 'deferred'")
        let due = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(due.code == 0, "\(due.out)\n\(due.err)")
        #expect(Truth.unstamped(due.out).last?.hasPrefix("report: reports/e2e/") == true, "\(due.out)")
        #expect(try e2e.lastReport().exitCode == 0)
        try e2e.expectExactlyOnce("chris")
    }

    /// Points 2 and 10: `--trace nodir/t.txt` in a fresh workspace creates the folder and the run goes on (every
    /// mailbox worked on, exit 0); a second run appends to the trace under a header of its own, and every trace
    /// line carries the date. A trace whose folder is a file stops the run before anything, exit 73.
    @Test func traceFolderIsCreatedTheTraceAppendedAndAFileInTheWayStopsTheRun() throws {
        let e2e = try EndToEnd("truth-trace", counts: ["kelly": 2])
        let first = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--trace", "nodir/t.txt"], in: e2e.workspace)
        #expect(first.code == 0 && first.err.isEmpty, "\(first.out)\n\(first.err)")
        let lines = Truth.unstamped(first.out)
        #expect(lines.first.map(Truth.normalised) == "mailferry: plan e2e, 1 mailbox, run RUN-ID", "\(lines)")
        #expect(lines.contains { $0.hasPrefix("  kelly@contoso.example (isp/kelly): 2 on server, 2 new, 2 delivered") })
        let second = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--trace", "nodir/t.txt"], in: e2e.workspace)
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        let trace = try String(contentsOfFile: e2e.workspace + "/nodir/t.txt", encoding: .utf8)
            .split(separator: "\n")
        let headers = trace.filter { $0.hasPrefix("# ") }
        #expect(headers.count == 2, "\(headers)")
        let header =
            #"^# [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z mailferry [0-9.]+ run [0-9T.Z]+, plan e2e \(jobs/e2e\.json5\)$"#
        #expect(headers.allSatisfy { $0.range(of: header, options: .regularExpression) != nil }, "\(headers)")
        let dated = #"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z isp/kelly pop3 "#
        let body = trace.filter { !$0.hasPrefix("# ") }
        #expect(!body.isEmpty && body.allSatisfy { $0.range(of: dated, options: .regularExpression) != nil })
        // Both runs' sessions are there: two logins.
        #expect(body.filter { $0.contains("C: QUIT") }.count == 2, "\(body.suffix(5))")

        _ = e2e.folder.file("afile", "not a folder\n")
        let blocked = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--trace", "afile/t.txt"], in: e2e.workspace)
        #expect(blocked.code == 73 && blocked.out.isEmpty, "\(blocked.out)\n\(blocked.err)")
        #expect(
            Truth.unstamped(blocked.err) == [
                "mailferry run: the trace file's folder afile/: it is not a folder",
                "mailferry run: nothing was run and no mail moved; exit 73",
            ], "\(blocked.err)")
        let db = try Database(path: e2e.statePath)
        let runs = try db.prepare("SELECT count(*) FROM runs").rows { $0.int(0) }
        withExtendedLifetime(db) {}
        #expect(runs == [2], "the blocked run left no row")
    }

    /// Point 3: a reports folder on a read-only file system. The run stops before any mail moves (exit 73, the
    /// folder and the cause named), and `status --html` says it cannot write the dashboard (exit 73).
    @Test func anUnwritableReportsFolderStopsTheRunBeforeAnyMailMoves() throws {
        let e2e = try EndToEnd("truth-reports", counts: ["sam": 3])
        let seeded = try EndToEnd.mailferry(["run", "jobs/e2e.json5", "--parallel", "1"], in: e2e.workspace)
        #expect(seeded.code == 0, "\(seeded.err)")
        _ = try e2e.lab.seed(
            user: "sam",
            messages: Corpus.mailbox(user: "sam", domain: "wingtip.example", count: 2, seed: 77, bigAttachment: false))
        let before = Truth.pop3Connections(e2e.lab)
        let reports = e2e.workspace + "/reports"
        let run = try Truth.mailferry(["run", "jobs/e2e.json5"], readOnly: [reports], in: e2e.workspace)
        #expect(run.code == 73 && run.out.isEmpty, "\(run.out)\n\(run.err)")
        #expect(
            Truth.unstamped(run.err).first
                == "mailferry run: the reports folder reports/e2e/: cannot write there: Read-only file system",
            "\(run.err)")
        #expect(Truth.pop3Connections(e2e.lab) == before, "no connection to the legacy server")
        #expect(e2e.deliveredCount("sam") == 3, "the two new messages stayed where they were")
        #expect(!run.err.contains("Error Domain"))

        let status = try Truth.mailferry(
            ["status", "jobs/e2e.json5", "--html"], readOnly: [reports], in: e2e.workspace)
        #expect(status.code == 73, "\(status.out)\n\(status.err)")
        #expect(
            status.err.split(separator: "\n").first.map(String.init)
                == "mailferry status: cannot write the dashboard: cannot write \(reports)/e2e/index.html: "
                + "Read-only file system", "\(status.err)")
        // The folder missing and its parent read-only: the run cannot create it.
        try FileManager.default.removeItem(atPath: reports + "/e2e")
        let missing = try Truth.mailferry(["run", "jobs/e2e.json5"], readOnly: [reports], in: e2e.workspace)
        #expect(missing.code == 73, "\(missing.err)")
        #expect(
            Truth.unstamped(missing.err).first
                == "mailferry run: the reports folder reports/e2e/: cannot create it: Read-only file system",
            "\(missing.err)")
    }

    /// Point 4: a state folder on a read-only file system. `run` exits 73 before any connection, naming the
    /// folder; `status` and `verify` say in a sentence which file they cannot read and why (exit 74); `check`,
    /// offline and online, shows a red row for it (exit 1).
    @Test func aReadOnlyStateFolderIsNamedByEveryCommand() throws {
        let e2e = try EndToEnd("truth-state", counts: ["dana": 2])
        let seeded = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(seeded.code == 0, "\(seeded.err)")
        let state = e2e.workspace + "/state"
        let before = Truth.pop3Connections(e2e.lab)
        let run = try Truth.mailferry(["run", "jobs/e2e.json5"], readOnly: [state], in: e2e.workspace)
        #expect(run.code == 73 && run.out.isEmpty, "\(run.out)\n\(run.err)")
        #expect(
            Truth.unstamped(run.err).first
                == "mailferry run: the state folder state/: cannot write there: Read-only file system", "\(run.err)")
        #expect(Truth.pop3Connections(e2e.lab) == before, "no connection to the legacy server")

        let unreadable =
            "cannot read the state database state/e2e.sqlite: unable to open database file (its folder state/ "
            + "cannot be written: Read-only file system; SQLite must create e2e.sqlite-shm there even to read)"
        for command in ["status", "verify"] {
            let result = try Truth.mailferry([command, "jobs/e2e.json5"], readOnly: [state], in: e2e.workspace)
            #expect(result.code == 74, "\(command): \(result.out)\n\(result.err)")
            #expect(
                result.err.split(separator: "\n").first.map(String.init) == "mailferry \(command): \(unreadable)",
                "\(command): \(result.err)")
        }
        let offline = try Truth.mailferry(
            ["check", "jobs/e2e.json5", "--offline"], readOnly: [state], in: e2e.workspace)
        #expect(offline.code == 1, "\(offline.out)\n\(offline.err)")
        let row = "FAIL  the state folder state/: cannot write there: Read-only file system"
        #expect(offline.out.split(separator: "\n").first.map(String.init) == row, "\(offline.out)")
        #expect(offline.out.contains("; 1 setup problem (see FAIL above); exit 1"), "\(offline.out)")
        let online = try Truth.mailferry(["check", "jobs/e2e.json5"], readOnly: [state], in: e2e.workspace)
        #expect(online.code == 1, "\(online.out)\n\(online.err)")
        let onlineLines = online.out.split(separator: "\n").map(String.init)
        #expect(onlineLines.prefix(2) == ["mailferry check: plan e2e, 1 mailbox, 1 source, 1 target", row])
        #expect(onlineLines.last?.hasSuffix("; 1 setup problem (see FAIL above); exit 1") == true, "\(onlineLines)")
    }

    /// Point 5: a caFile that holds no certificate. `check --offline` and `check` show a red row naming it; a run
    /// stops before its first connection with exit 78 instead of stopping every mailbox at its handshake.
    @Test func aGarbageCAFileIsRefusedBeforeTheFirstConnection() throws {
        let e2e = try EndToEnd("truth-ca", counts: ["erin": 2])
        _ = e2e.folder.file("certs/garbage.pem", "this is not a certificate\n")
        try Truth.editPlan(e2e, "caFile: \"\(e2e.lab.caFile.path)\"", "caFile: \"certs/garbage.pem\"")
        let row =
            "FAIL  the caFile of source isp certs/garbage.pem: it holds no PEM certificate "
            + "(\"-----BEGIN CERTIFICATE-----\")"
        let offline = try EndToEnd.mailferry(["check", "jobs/e2e.json5", "--offline"], in: e2e.workspace)
        #expect(offline.code == 1, "\(offline.out)\n\(offline.err)")
        #expect(offline.out.split(separator: "\n").first.map(String.init) == row, "\(offline.out)")
        let online = try EndToEnd.mailferry(["check", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(online.code == 1, "\(online.out)\n\(online.err)")
        #expect(online.out.split(separator: "\n").dropFirst().first.map(String.init) == row, "\(online.out)")

        let before = Truth.pop3Connections(e2e.lab)
        let run = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(run.code == 78 && run.out.isEmpty, "\(run.out)\n\(run.err)")
        #expect(
            Truth.unstamped(run.err) == [
                "mailferry run: " + row.dropFirst(6),
                "mailferry run: nothing was run and no mail moved; exit 78",
            ], "\(run.err)")
        #expect(Truth.pop3Connections(e2e.lab) == before, "no connection to the legacy server")
        #expect(!FileManager.default.fileExists(atPath: e2e.statePath), "no state was made")
        // The real CA again: the run goes on.
        try Truth.editPlan(e2e, "caFile: \"certs/garbage.pem\"", "caFile: \"\(e2e.lab.caFile.path)\"")
        let fixed = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(fixed.code == 0, "\(fixed.out)\n\(fixed.err)")
        try e2e.expectExactlyOnce("erin")
    }
}
