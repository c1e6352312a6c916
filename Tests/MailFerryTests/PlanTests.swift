import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

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
        let file = dir.file(
            "bad.json5",
            """
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
        #expect(
            error?.description == file + ":1:25: syntax error: unexpected end of file: the object opened at "
                + "line 1, column 23 is not closed with }")
        let missing = #expect(throws: PlanError.self) { try PlanLoader.load(dir.path + "/nope.json5") }
        #expect(missing?.description.contains("does not exist") == true)
    }

    @Test func mailboxNamesCannotEscapeTheTargetFolder() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "p.json5",
            Self.good.replacingOccurrences(
                of: "chris@contoso.example",
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

    /// A `command` secret is bounded in time: one that hangs is killed at the limit and the login fails with a reason
    /// that names the program, not what it printed; one that answers in time gives its first line.
    @Test func commandSecretsAreBoundedInTime() throws {
        let dir = TempFolder("secret-command")
        defer { dir.cleanup() }
        let helper = dir.file("bin/vault", "#!/bin/sh\nprintf 'partial-secret'\nexec sleep 20\n", mode: 0o700)
        let started = Date()
        let error = #expect(throws: MailError.self) { try SecretRef.command([helper]).resolve(commandTimeout: 1) }
        let took = Date().timeIntervalSince(started)
        #expect(took >= 0.9 && took < 6, "took \(took) s")
        #expect(error?.kind == .auth)
        #expect(error?.message.contains("did not finish within 1") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("partial-secret") == false)
        let quick = dir.file("bin/quick", "#!/bin/sh\necho from-the-vault\n", mode: 0o700)
        // (Ten seconds for a shell to start and print, however loaded the machine.)
        #expect(try SecretRef.command([quick]).resolve(commandTimeout: 10) == "from-the-vault")
        #expect(SecretRef.defaultCommandTimeout == 30)
    }

    // MARK: - The full format

    static let full = """
        {
          plan: "wingtip",
          quarantineAfter: 3,
          sources: {
            isp: { host: "pop.wingtip-isp.example", maxConnections: 2, deleteFromSourceAfterDays: 30,
                   onUIDLReset: "rekey" },
            other: { host: "pop.other.example", port: 110, tls: "starttls" },
          },
          targets: {
            archive: { kind: "maildir", path: "mail/{mailbox}" },
            contoso: { kind: "imap", host: "mail.contoso.example", port: 143, tls: "starttls", user: "admin",
                       password: { env: "CONTOSO_PW" }, authorize: "{mailbox}", flags: ["\\\\seen", "migrated"] },
            relay: { kind: "lmtp", host: "127.0.0.1" },
            local: { kind: "lmtp", socket: "run/lmtp", from: "migration@contoso.example" },
            smarthost: { kind: "smtp", host: "smtp.contoso.example", user: "m", token: { command: ["bin/token"] } },
          },
          defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
          mailboxes: [
            { user: "chris", password: { env: "WT_CHRIS" } },
            { user: "everyone", password: { file: "secrets/everyone" }, target: "contoso",
              mailbox: "all@contoso.example",
              global: { domains: ["WingtipToys.com"], rewrite: "{local}@contoso.example",
                        trustedHosts: ["mx1.wingtip-isp.example", "192.0.2.7"],
                        rules: [ { match: "List@TreyResearch.net", mailbox: "kelly@contoso.example" },
                                 { match: "@fabrikam.com", mailbox: "sales@contoso.example" } ],
                        fallback: "postmaster@contoso.example" } },
          ],
          mailboxList: [
            { csv: "jobs/people.csv", target: "relay" },
            { csv: "jobs/more.csv", source: "other", mailbox: "{user}@fabrikam.example" },
          ],
        }
        """

    @Test func theFullFormatBuildsTheModel() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file("jobs/wingtip.json5", Self.full)
        _ = dir.file(
            "jobs/people.csv",
            """
            \u{FEFF}EmailAddress,UserName,Password,Target
            kelly@contoso.example,kelly,env:WT_KELLY,
            "Sam ""the man"", Jr@contoso.example",sam,file:secrets/sam,archive\r
            # a comment line

            lee@contoso.example,lee,"env:WT_LEE",smarthost
            """)
        _ = dir.file("jobs/more.csv", "user;token\npat;env:PAT_TOKEN\n")
        let plan = try PlanLoader.load(file)
        let workspace = URL(fileURLWithPath: dir.path).standardizedFileURL.path
        #expect(
            plan.mailboxes.map(\.key) == [
                "isp/chris", "isp/everyone", "isp/kelly", "isp/sam", "isp/lee",
                "other/pat",
            ])
        #expect(
            plan.mailboxes.map(\.address) == [
                "chris@contoso.example", "all@contoso.example",
                "kelly@contoso.example", "Sam \"the man\", Jr@contoso.example",
                "lee@contoso.example", "pat@fabrikam.example",
            ])
        #expect(plan.mailboxes.map(\.target) == ["archive", "contoso", "relay", "archive", "smarthost", "archive"])
        let people = PlanLoader.display(workspace + "/jobs/people.csv")
        let more = PlanLoader.display(workspace + "/jobs/more.csv")
        #expect(
            plan.mailboxes.map(\.origin.label) == [
                "mailboxes[0]", "mailboxes[1]", people + ":2", people + ":3",
                people + ":6", more + ":2",
            ])
        #expect(plan.mailboxes[3].password == .file(workspace + "/secrets/sam"))
        #expect(plan.mailboxes[5].token == .env("PAT_TOKEN") && plan.mailboxes[5].password == nil)
        #expect(plan.mailboxes[2].origin.spots["password"]?.location.description == people + ":2:29")
        let global = try #require(plan.mailboxes[1].global)
        #expect(global.domains == ["wingtiptoys.com"])
        #expect(global.trustedHosts == ["mx1.wingtip-isp.example", "192.0.2.7"])
        #expect(
            global.rules == [
                .init(match: "list@treyresearch.net", mailbox: "kelly@contoso.example"),
                .init(match: "@fabrikam.com", mailbox: "sales@contoso.example"),
            ])
        #expect(global.fallback == "postmaster@contoso.example")
        guard case .imap(let imap)? = plan.targets["contoso"]?.kind else {
            Issue.record("imap")
            return
        }
        #expect(imap.endpoint.port == 143 && imap.endpoint.tls == .starttls && imap.user == "admin")
        #expect(imap.password == .env("CONTOSO_PW") && imap.flags == ["\\Seen", "migrated"] && imap.folder == "INBOX")
        guard case .lmtp(let relay)? = plan.targets["relay"]?.kind, case .lmtp(let local)? = plan.targets["local"]?.kind
        else {
            Issue.record("lmtp")
            return
        }
        #expect(relay.endpoint?.port == 24 && relay.endpoint?.tls == TLSMode.none && relay.from == "")
        #expect(local.socket == workspace + "/run/lmtp" && local.endpoint == nil)
        #expect(local.from == "migration@contoso.example")
        guard case .smtp(let smtp)? = plan.targets["smarthost"]?.kind else {
            Issue.record("smtp")
            return
        }
        #expect(smtp.endpoint.port == 587 && smtp.endpoint.tls == .starttls)
        #expect(smtp.token == .command([workspace + "/bin/token"]))
        #expect(plan.sources["other"]?.endpoint.port == 110)
        #expect(plan.sources["isp"]?.deleteFromSourceAfterDays == 30 && plan.sources["isp"]?.onUIDLReset == .rekey)
        #expect(plan.sources["other"]?.deleteFromSourceAfterDays == nil && plan.sources["other"]?.onUIDLReset == .stop)
        #expect(plan.quarantineAfter == 3)
    }

    @Test func problemsComeInFileOrderAcrossThePlanAndItsLists() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/p.json5",
            """
            {
              plan: "p",
              sources: { isp: { host: "h.example" } },
              targets: { archive: { kind: "maildir", path: "m/{mailbox}" } },
              defaults: { source: "isp", target: "archive" },
              mailboxList: { csv: "jobs/b.csv" },
              mailboxes: [ { user: "x", password: "inline" } ],
              zzz: 1,
            }
            """)
        _ = dir.file("jobs/b.csv", "user,password\nx,env:X\ny,plain-text-secret\n")
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let lines = error?.description.split(separator: "\n").map(String.init) ?? []
        #expect(
            lines == [
                file + ":7:29: mailboxes[0].password: a password written in the plan is refused (plans get copied, "
                    + "mailed and committed); put it in an environment variable or a file readable only by you, and write "
                    + "{ env: \"NAME\" }, { file: \"path\" } or { command: [\"program\", \"arg\"] }",
                file + ":8:3: zzz: unknown key",
                PlanLoader.display(dir.path + "/jobs/b.csv") + ":2:1: duplicate mailbox isp/x (also mailboxes[0])",
                PlanLoader.display(dir.path + "/jobs/b.csv")
                    + ":3:3: password: a password written in the list is refused "
                    + "(lists get mailed and copied); put it in an environment variable or a file readable only by you, "
                    + "and write env:NAME or file:PATH",
            ])
        #expect(error?.description.contains("plain-text-secret") == false)
    }

    @Test func csvParsing() throws {
        let table = try CSVTable.parse(Data("a,b,c\r\n1,\"x,y\",\"line\nbreak\"\r\n  spaced , \" kept \" ,\n".utf8))
        #expect(table.header == ["a", "b", "c"])
        #expect(table.records.map(\.line) == [2, 4])
        #expect(table.records.map(\.fields) == [["1", "x,y", "line\nbreak"], ["spaced", " kept ", ""]])
        #expect(throws: CSVTable.Failure.self) { try CSVTable.parse(Data("a,b\n1,x\"y\n".utf8)) }
        #expect(throws: CSVTable.Failure.self) { try CSVTable.parse(Data("a,b\n\"1\"x,2\n".utf8)) }
        #expect(throws: CSVTable.Failure.self) { try CSVTable.parse(Data("# only a comment\n".utf8)) }
        let semicolons = try CSVTable.parse(Data("user;password\nkim;env:K".utf8))
        #expect(semicolons.records.first?.fields == ["kim", "env:K"])
    }

    /// The forms a spreadsheet or an Exchange Online migration batch export produce: Exchange's column names, a
    /// UTF-8 byte order mark, CRLF line ends, ';' as the separator (a German or French Excel), quoted cells, columns
    /// in another order. Each reads as the same three people.
    static let csvVariants: [(String, String)] = [
        (
            "plain",
            "mailbox,user,password\nkelly@contoso.example,kelly,env:WT_KELLY\nsam@contoso.example,sam,"
                + "file:secrets/sam\nlee@contoso.example,lee,env:WT_LEE\n"
        ),
        (
            "exchange",
            "EmailAddress,UserName,Password\nkelly@contoso.example,kelly,env:WT_KELLY\nsam@contoso.example,"
                + "sam,file:secrets/sam\nlee@contoso.example,lee,env:WT_LEE\n"
        ),
        (
            "bom-crlf",
            "\u{FEFF}EmailAddress,UserName,Password\r\nkelly@contoso.example,kelly,env:WT_KELLY\r\n"
                + "sam@contoso.example,sam,file:secrets/sam\r\nlee@contoso.example,lee,env:WT_LEE\r\n"
        ),
        (
            "semicolons",
            "\u{FEFF}EmailAddress;UserName;Password\r\nkelly@contoso.example;kelly;env:WT_KELLY\r\n"
                + "sam@contoso.example;sam;file:secrets/sam\r\nlee@contoso.example;lee;env:WT_LEE"
        ),
        (
            "quoted-reordered",
            "\"Password\",\"UserName\",\"EmailAddress\"\n\"env:WT_KELLY\",\"kelly\","
                + "\"kelly@contoso.example\"\n\n# a comment\n\"file:secrets/sam\",sam , sam@contoso.example\n"
                + "env:WT_LEE,lee,lee@contoso.example"
        ),
        (
            "email-login",
            "Email Address;Login;Password\nkelly@contoso.example;kelly;env:WT_KELLY\n"
                + "sam@contoso.example;sam;file:secrets/sam\nlee@contoso.example;lee;env:WT_LEE\n"
        ),
    ]

    @Test(arguments: csvVariants.map(\.0)) func csvVariantsReadAlike(_ name: String) throws {
        let dir = TempFolder("csv-variant")
        defer { dir.cleanup() }
        let text = Self.csvVariants.first { $0.0 == name }!.1
        _ = dir.file("jobs/people.csv", text)
        let file = dir.file(
            "jobs/p.json5",
            """
            { plan: "p", sources: { isp: { host: "h.example" } },
              targets: { archive: { kind: "maildir", path: "m/{mailbox}" } },
              mailboxList: { csv: "jobs/people.csv", source: "isp", target: "archive" } }
            """)
        let plan = try PlanLoader.load(file)
        let workspace = URL(fileURLWithPath: dir.path).standardizedFileURL.path
        #expect(plan.mailboxes.map(\.key) == ["isp/kelly", "isp/sam", "isp/lee"])
        #expect(
            plan.mailboxes.map(\.address) == [
                "kelly@contoso.example", "sam@contoso.example",
                "lee@contoso.example",
            ])
        #expect(
            plan.mailboxes.map(\.password) == [
                .env("WT_KELLY"), .file(workspace + "/secrets/sam"),
                .env("WT_LEE"),
            ])
    }

    /// Where each field starts (line and column), and rows after a broken one still read.
    @Test func csvPositionsAndRowsAfterAProblem() throws {
        let table = try CSVTable.parseAll(Data("user,password\r\n  kim , env:K\r\n\"x\"y,1\r\nlee,\"env:L\"\n".utf8))
        #expect(table.headerColumns == [1, 6])
        #expect(table.records.map(\.line) == [2, 4])
        #expect(table.records.map(\.columns) == [[1, 8], [1, 5]])
        #expect(table.records.map(\.fields) == [["kim", "env:K"], ["lee", "env:L"]])
        #expect(table.problems.map { "\($0.line):\($0.column ?? 0)" } == ["3:4"])
        let unclosed = try CSVTable.parseAll(Data("user,password\n\"kim,env:K\nlee,env:L\n".utf8))
        #expect(unclosed.problems.map { "\($0.line):\($0.column ?? 0)" } == ["2:1"])
        #expect(unclosed.records.map(\.fields) == [["lee", "env:L"]])
        // A broken header spoils the whole list.
        #expect(throws: CSVTable.Failure.self) { try CSVTable.parseAll(Data("us\"er,password\nkim,env:K\n".utf8)) }
    }

    @Test func initWritesAPlanThatValidates() throws {
        let dir = TempFolder("init")
        defer { dir.cleanup() }
        let out = open("/dev/null", O_WRONLY)
        defer { close(out) }
        let console = Console(out: out, err: out)
        let path = dir.path + "/jobs/example.json5"
        #expect(MailFerryCLI.main(["init", path], console: console) == ExitCode.ok)
        let plan = try PlanLoader.load(path)
        #expect(plan.name == "example")
        #expect(plan.mailboxes.map(\.key) == ["isp/chris", "isp/kelly", "isp/sam"])
        #expect(
            plan.mailboxes.map(\.address) == [
                "chris@contoso.example", "kelly@contoso.example",
                "sam@contoso.example",
            ])
        let before = try String(contentsOfFile: path, encoding: .utf8)
        #expect(MailFerryCLI.main(["init", path], console: console) == ExitCode.usage)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
        // Outside a jobs/ folder, the CSV path is relative to the plan's own folder.
        let loose = dir.path + "/elsewhere/wingtip"
        #expect(MailFerryCLI.main(["init", loose], console: console) == ExitCode.ok)
        let other = try PlanLoader.load(loose + ".json5")
        #expect(other.name == "wingtip" && other.mailboxes.count == 3)
    }

    /// Every routing setting the router understands is reachable from the plan: aliases, header and regex rules,
    /// the qmail prefix option and the reason header; the runner's router routes by them.
    @Test func globalRoutingSettingsReachTheRouter() throws {
        let dir = TempFolder("plan")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/g.json5",
            """
            {
              plan: "g",
              sources: { isp: { host: "127.0.0.1" } },
              targets: { archive: { kind: "maildir", path: "m/{mailbox}" } },
              mailboxes: [
                { source: "isp", user: "erin", password: { env: "E" }, target: "archive",
                  mailbox: "erin@contoso.example" },
                { source: "isp", user: "everyone", password: { env: "X" }, target: "archive",
                  global: { domains: ["wingtiptoys.com", "acquired.example"], rewrite: "{local}@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster@contoso.example",
                            rules: [ { match: "Subject: Invoice", mailbox: "accounts@contoso.example" },
                                     { match: "/^jobs[-.].*@wingtiptoys\\\\.com$/", mailbox: "hr@contoso.example" } ],
                            aliases: { "info@acquired.example": "frank@contoso.example", "sales": "erin" },
                            qmailPrefix: "domain", reasonHeader: true } },
                { source: "isp", user: "other", password: { env: "O" }, target: "archive",
                  global: { domains: ["fabrikam.com"], qmailPrefix: ["fab-", "Fabrikam-"],
                            fallback: "postmaster@contoso.example" } },
              ],
            }
            """)
        let plan = try PlanLoader.load(file)
        let global = try #require(plan.mailboxes[1].global)
        #expect(global.aliases == ["info@acquired.example": "frank@contoso.example", "sales": "erin"])
        #expect(global.rules.map(\.match) == ["Subject: Invoice", "/^jobs[-.].*@wingtiptoys\\.com$/"])
        #expect(global.qmailPrefix == .domain && global.reasonHeader)
        #expect(plan.mailboxes[2].global?.qmailPrefix == .prefixes(["fab-", "fabrikam-"]))
        #expect(plan.mailboxes[2].global?.reasonHeader == false)
        #expect(plan.mailboxes[0].envelopeRecovery.qmailPrefix == .off)
        #expect(
            plan.mailboxes[1].envelopeRecovery
                == EnvelopeRecovery(
                    trustedHosts: ["mx1.wingtip-isp.example"], localDomains: ["wingtiptoys.com", "acquired.example"],
                    qmailPrefix: .domain))

        let runner = try Runner(plan: plan, store: try Store(path: dir.path + "/state.sqlite"), cleanSpool: false)
        let router = try runner.router(for: plan.mailboxes[1], global: global)
        func route(_ lines: [String]) -> [String] {
            let headers = HeaderBlock(parsing: Array((lines.joined(separator: "\r\n") + "\r\n\r\nbody\r\n").utf8))
            let envelope = plan.mailboxes[1].envelopeRecovery.recover(headers, firstSeen: Date())
            return router.route(envelope, headers: headers).mailboxes
        }
        let trace = [
            "Received: from a.example (a.example [192.0.2.1]) by mx1.wingtip-isp.example (Postfix) id 1",
            "\tfor <%@>; Mon, 2 Nov 2026 10:00:00 +0000",
        ]
        func via(_ address: String, subject: String = "hello") -> [String] {
            route([
                "X-Original-To: \(address)", trace[0], trace[1].replacingOccurrences(of: "%@", with: address),
                "Subject: \(subject)",
            ])
        }
        #expect(via("info@acquired.example") == ["frank@contoso.example"])
        #expect(via("sales@wingtiptoys.com") == ["erin@contoso.example"])
        #expect(via("jobs-2026@wingtiptoys.com") == ["hr@contoso.example"])
        #expect(via("erin@wingtiptoys.com", subject: "Invoice 117") == ["accounts@contoso.example"])
        #expect(via("nobody@wingtiptoys.com") == ["postmaster@contoso.example"])
        // qmail's Delivered-To form, with the plan's qmailPrefix: "domain".
        #expect(
            route([
                "Delivered-To: wingtiptoys.com-erin@wingtiptoys.com",
                "Received: (qmail 1 invoked by uid 89); 2 Nov 2026 10:00:01 -0000",
                "Received: from unknown (HELO a.example) (192.0.2.1) by mx1.wingtip-isp.example with SMTP; "
                    + "2 Nov 2026 10:00:00 -0000",
            ]) == ["erin@contoso.example"])
    }
}
