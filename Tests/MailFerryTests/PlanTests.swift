import Foundation
import Testing
@testable import MailFerry

@Suite struct PlanTests {
    static let good = """
        // a comment: plans are JSON5
        {
          plan: "wingtip",
          transition: { cutover: "2026-12-15" },
          sources: { isp: { host: "127.0.0.1", port: 1995, tls: "implicit" } },
          targets: { archive: { kind: "maildir", path: "mail/{mailbox}" } },
          mailboxes: [
            { source: "isp", user: "chris", password: { env: "WT_CHRIS" }, target: "archive",
              mailbox: "chris@contoso.example" },
            { source: "isp", user: "kelly", password: { file: "secrets/kelly" }, target: "archive" },
          ],
        }
        """

    @Test func loadsAndResolvesAgainstTheWorkspace() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file("jobs/wingtip.json5", Self.good)
        let plan = try PlanLoader.load(file)
        let workspace = URL(fileURLWithPath: dir.path).standardizedFileURL.path
        #expect(plan.name == "wingtip")
        #expect(plan.statePath == workspace + "/state/wingtip.sqlite")
        #expect(plan.reportsPath == workspace + "/reports/wingtip")
        #expect(plan.sources["isp"]?.endpoint.port == 1995)
        #expect(plan.mailboxes.map(\.address) == ["chris@contoso.example", "kelly"])
        #expect(plan.mailboxes[1].password == .file(workspace + "/secrets/kelly"))
        #expect(plan.targets["archive"]?.kind == .maildir(path: workspace + "/mail/{mailbox}"))
        #expect(plan.transition.cutover == "2026-12-15")
    }

    @Test func reportsEveryProblemAtOnce() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file("bad.json5", """
            {
              plan: "bad",
              transition: { cutover: "15.12.2026" },
              sources: { isp: { host: "pop.example", tls: "none", prot: 110 } },
              targets: { archive: { kind: "maildir", path: "m/{mailbox}" } },
              mailboxes: [
                { source: "ips", user: "a", password: "hunter2", target: "archive" },
                { source: "isp", user: "b", password: { env: "B" }, target: "archiv" },
                { source: "isp", user: "b", password: { env: "B" }, target: "archive" },
                { source: "isp", user: "b", password: { env: "B" }, target: "archive" },
              ],
            }
            """)
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let text = error?.description ?? ""
        #expect(text.contains("transition.cutover: \"15.12.2026\" is not a date"))
        #expect(text.contains("sources.isp.prot: unknown key (did you mean \"port\"?)"))
        #expect(text.contains("sources.isp.tls: \"none\" sends passwords in clear text"))
        #expect(text.contains("mailboxes[0].source: no source named \"ips\" in sources (did you mean \"isp\"?)"))
        #expect(text.contains("mailboxes[0].password: a password written in the plan is refused"))
        #expect(text.contains("mailboxes[1].target: no target named \"archiv\" in targets (did you mean \"archive\"?)"))
        #expect(text.contains("mailboxes[2]: duplicate mailbox isp/b (also mailboxes[1])"))
        #expect(text.contains("mailboxes[3]: duplicate mailbox isp/b (also mailboxes[1])"))
        #expect(!text.contains("hunter2"))
        #expect(text.hasPrefix(file + ":3:17: transition.cutover: "))
    }

    @Test func syntaxErrorsNameTheFile() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file("broken.json5", "{ plan: \"x\", sources: { ")
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        #expect(error?.description == file + ":1:25: syntax error: unexpected end of file: the object opened at line 1, "
            + "column 23 is not closed with }")
        let missing = #expect(throws: PlanError.self) { try PlanLoader.load(dir.path + "/nope.json5") }
        #expect(missing?.description.contains("does not exist") == true)
    }

    @Test func mailboxNamesCannotEscapeTheTargetFolder() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file("p.json5", Self.good.replacingOccurrences(of: "chris@contoso.example",
                                                                        with: "../../etc"))
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        #expect(error?.description.contains("would escape the target folder") == true)
    }

    @Test func secretsFromEnvironmentAndPrivateFiles() throws {
        let dir = TempFolder("secret")
        defer { dir.cleanup() }
        let good = dir.file("pw", "s3cret\n")
        #expect(try SecretRef.file(good).resolve() == "s3cret")
        let crlf = dir.file("pw2", "s3cret\r\n")
        #expect(try SecretRef.file(crlf).resolve() == "s3cret")
        let open = dir.file("open", "s3cret\n", mode: 0o644)
        let error = #expect(throws: MailError.self) { try SecretRef.file(open).resolve() }
        #expect(error?.message.contains("chmod 600") == true)
        #expect(error?.message.contains("s3cret") == false)
        setenv("MAILFERRY_TEST_SECRET", "from-env", 1)
        #expect(try SecretRef.env("MAILFERRY_TEST_SECRET").resolve() == "from-env")
        #expect(throws: MailError.self) { try SecretRef.env("MAILFERRY_TEST_UNSET_VARIABLE").resolve() }
    }
}
