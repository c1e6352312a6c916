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

/// What an operator sees is true (issue 19): `check`'s table under cron or in a pipe, counts in good English, a
/// dry run that leaves no trace, and a YAML plan that is told what a plan is.
@Suite(.serialized) struct OperatorViewTests {
    // MARK: - check, not on a terminal

    /// Standard output is a file here (as under cron or `| tee`), and COLUMNS is unset: the table takes the width
    /// its cells need. Nothing is cut: the long address is whole, and no cell ends in "…".
    @Test func checkTableIsWholeWhenNotOnATerminal() throws {
        let folder = TempFolder("check-piped")
        defer { folder.cleanup() }
        _ = folder.file("secrets/chris", "not-used\n")
        _ = folder.file(
            "jobs/piped.json5",
            """
            {
              plan: "piped",
              // Port 1 on loopback: nothing listens, so each row is red at once, with its reason.
              sources: { isp: { host: "127.0.0.1", port: 1, tls: "implicit", timeoutSeconds: 5 } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              defaults: { source: "isp", target: "archive" },
              mailboxes: [
                { user: "chris", password: { file: "secrets/chris" },
                  mailbox: "chris.longname-of-the-finance-department@contoso-subsidiary.example" },
                { user: "kelly", password: { file: "secrets/chris" }, mailbox: "kelly@contoso.example" },
              ],
            }
            """)
        let child = try ChildProcess(
            "/usr/bin/env", ["-u", "COLUMNS", EndToEnd.binary, "check", folder.path + "/jobs/piped.json5"])
        let (code, out, err) = child.finish(within: 120, "mailferry check")
        #expect(code == 1, "\(out)\n\(err)")
        let seconds = try Regex(#"in \d+\.\d s; exit"#)
        let expected = """
            mailferry check: plan piped, 2 mailboxes, 1 source, 1 target
                  MAILBOX                                                              SOURCE           TLS  AUTH  CAPABILITIES  WAITING  TARGET
            FAIL  chris.longname-of-the-finance-department@contoso-subsidiary.example  isp 127.0.0.1:1  -    -     -             -        archive maildir: will be created
                  source: pop3 127.0.0.1:1: cannot connect to 127.0.0.1:1: Connection refused
            FAIL  kelly@contoso.example                                                isp 127.0.0.1:1  -    -     -             -        archive maildir: will be created
                  source: pop3 127.0.0.1:1: cannot connect to 127.0.0.1:1: Connection refused
            sources:
              isp: 127.0.0.1:1, tls implicit; 0 of 2 mailboxes logged in (not reached)
            check: 2 mailboxes, 0 ok, 2 failed in X s; exit 1

            """
        #expect(out.replacing(seconds, with: "in X s; exit") == expected)
        #expect(!out.contains("…"))
    }

    // MARK: - run --dry-run

    /// "Change nothing": no run report, no dashboard, no run row; before the first run not even the reports
    /// folder. It says what it would fetch, in the singular for one.
    @Test func dryRunWritesNoReport() throws {
        let e2e = try EndToEnd("dry-run", counts: ["alice": 3])
        defer {
            e2e.lab.stop()
            e2e.folder.cleanup()
        }
        let reports = e2e.workspace + "/reports/e2e"
        let first = try e2e.run(["--dry-run", "--timestamps", "never"])
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        #expect(first.out.contains("\n    would fetch 3 new messages, "), "\(first.out)")
        #expect(first.out.contains("dry run: nothing was fetched, delivered or deleted; no report written"))
        #expect(!first.out.contains("report: "), "\(first.out)")
        #expect(!FileManager.default.fileExists(atPath: reports), "a dry run created \(reports)")
        #expect(try Self.runRows(e2e.statePath) == 0)

        let real = try e2e.run()
        #expect(real.code == 0, "\(real.out)\n\(real.err)")
        let written = try FileManager.default.contentsOfDirectory(atPath: reports).sorted()
        #expect(written.filter { $0.hasSuffix(".md") }.count == 1, "\(written)")
        let dashboard = try Data(contentsOf: URL(fileURLWithPath: reports + "/index.html"))

        try e2e.lab.seed(
            user: "alice",
            messages: Corpus.mailbox(
                user: "alice", domain: "wingtip.example", count: 1, seed: 77, bigAttachment: false))
        let second = try e2e.run(["--dry-run", "--timestamps", "never"])
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        #expect(second.out.contains("\n    would fetch 1 new message, "), "\(second.out)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: reports).sorted() == written)
        #expect(try Data(contentsOf: URL(fileURLWithPath: reports + "/index.html")) == dashboard)
        #expect(try Self.runRows(e2e.statePath) == 1)
        // And the real run after it fetches the one message: the dry run recorded nothing of it.
        let after = try e2e.run(["--timestamps", "never"])
        #expect(after.out.contains("done: 1 mailbox, 1 message delivered"), "\(after.out)")
    }

    static func runRows(_ statePath: String) throws -> Int {
        let db = try Database(path: statePath)
        return try db.prepare("SELECT count(*) FROM runs").rows { Int($0.int(0)) }.first ?? -1
    }

    // MARK: - YAML plans

    @Test func aYAMLPlanIsToldThatPlansAreJSON5() throws {
        let folder = TempFolder("yaml")
        defer { folder.cleanup() }
        let yaml = "\nplan: wingtip\nsources:\n  isp:\n    host: pop.example\n"
        _ = folder.file("jobs/wingtip.yaml", yaml)
        _ = folder.file("jobs/wingtip.json5", yaml)
        _ = folder.file("jobs/broken.json5", "{ plan: wingtip }\n")
        func check(_ name: String) throws -> (Int32, String, String) {
            let child = try ChildProcess(
                "/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", folder.path, EndToEnd.binary, "check", "jobs/" + name])
            return child.finish(within: 60, "mailferry check \(name)")
        }
        let hint =
            "Plans are JSON5, not YAML: wrap the plan in { }, put text values in quotes and end each entry with a "
            + "comma (mailferry init writes a commented example)"
        for name in ["wingtip.yaml", "wingtip.json5"] {
            let (code, out, err) = try check(name)
            #expect(code == 2 && out.isEmpty)
            #expect(
                err == """
                    jobs/\(name):2:1: syntax error: unexpected word plan: text values need quotes, as in "plan". \(hint)
                    mailferry check: 1 problem in the plan; nothing was checked

                    """)
        }
        // A JSON5 plan with a plain mistake gets no word about YAML.
        let (code, _, err) = try check("broken.json5")
        #expect(code == 2)
        #expect(
            err == """
                jobs/broken.json5:1:9: syntax error: unexpected word wingtip: text values need quotes, as in "wingtip"
                mailferry check: 1 problem in the plan; nothing was checked

                """)
        #expect(PlanLoader.looksLikeYAML(Data("---\nplan: x\n".utf8)))
        #expect(PlanLoader.looksLikeYAML(Data("\n// note\nplan: x\n".utf8)))
        #expect(PlanLoader.looksLikeYAML(Data("- a\n".utf8)))
        #expect(!PlanLoader.looksLikeYAML(Data("{ plan: \"x\" }\n".utf8)))
        #expect(!PlanLoader.looksLikeYAML(Data("// c\n{\n  plan: x\n".utf8)))
    }

    // MARK: - Counts in good English

    @Test func countsAreSingularForOne() {
        #expect(counted(1, "message") == "1 message")
        #expect(counted(0, "message") == "0 messages")
        #expect(counted(2, "mailbox") == "2 mailboxes")
        #expect(counted(1, "mailbox") == "1 mailbox")
        #expect(counted(3, "delivery") == "3 deliveries")
        #expect(counted(2, "day") == "2 days")
        #expect(counted(2, "APPEND") == "2 APPENDs")
        #expect(counted(2, "unique id") == "2 unique ids")
        #expect(counted(5, "person", "people") == "5 people")
        #expect(pluralized("new message", count: 1) == "new message")

        var one = MailboxResult(key: "isp/chris", address: "chris@contoso.example", target: "archive")
        one.delivered = 1
        one.bytes = 1000
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let summary = RunSummary(
            runID: "r", plan: "p", startedAt: at, finishedAt: at, mailboxes: [one], interrupted: false,
            exitCode: 0)
        #expect(ReportWriter.headline(summary).contains("- delivered: 1 message, 1000 B; "))
        var verify = VerifyReport(
            plan: "p", verifiedAt: at, stateFiles: [], mailboxes: [], missing: [], duplicates: [], exitCode: 1)
        var box = VerifyReport.Mailbox(
            key: "isp/chris", address: "chris@contoso.example", target: "a", targetKind: "maildir")
        box.onServer = 1
        verify.mailboxes = [box]
        #expect(verify.verdict.hasPrefix("the 1 message on the legacy servers is in its target mailbox; 0 duplicates"))
    }
}
