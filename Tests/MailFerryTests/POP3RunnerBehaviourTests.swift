import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// How a mailbox run reacts to what odd or busy POP3 servers say, against scripted servers (plaintext on loopback,
/// allowPlaintext set): what is waited for, what is refused, and that nothing is lost or delivered twice.
@Suite(.serialized) struct POP3RunnerBehaviourTests {
    /// A workspace whose plan points at a fake server.
    struct Setup {
        let folder: TempFolder
        let planFile: String

        init(planFile: String, folder: TempFolder) {
            self.planFile = planFile
            self.folder = folder
        }

        /// `credential` replaces the mailbox's password file (plan text such as `token: { command: [...] }`).
        /// `planExtras`: top-level plan keys (`quarantineAfter: 2,`); `timeout`: the source's `timeoutSeconds`.
        init(
            port: Int, sourceExtras: String = "", auth: String = #"["user"]"#, credential: String? = nil,
            planExtras: String = "", timeout: Int = 5
        ) {
            folder = TempFolder("runner")
            let secret = folder.file("secrets/pw", "pw\n")
            planFile = folder.file(
                "jobs/fake.json5",
                """
                {
                  plan: "fake", \(planExtras)
                  sources: { odd: { host: "127.0.0.1", port: \(port), tls: "none", allowPlaintext: true,
                                    timeoutSeconds: \(timeout), auth: \(auth) \(sourceExtras) } },
                  targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ { source: "odd", user: "u", \(credential ?? "password: { file: \"\(secret)\" }"),
                                 target: "box" } ],
                }
                """)
        }

        func run() throws -> MailboxResult {
            let plan = try PlanLoader.load(planFile)
            let store = try Store(path: plan.statePath)
            let runner = try Runner(plan: plan, store: store)
            return runner.run(runID: "test").first!
        }

        /// A whole `mailferry run` in-process: the summary, what the console showed and the Markdown report.
        func runCommand() throws -> (summary: RunSummary, console: String, report: String) {
            let plan = try PlanLoader.load(planFile)
            let store = try Store(path: plan.statePath)
            let output = folder.path + "/console-\(UUID().uuidString.prefix(8)).txt"
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            defer { unlink(output) }
            let summary = RunCommand.execute(
                plan: plan, store: store,
                args: RunCommand.Arguments(plan: planFile, noProgress: true),
                console: Console(out: fd, err: fd))
            close(fd)
            let console = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let report = try String(contentsOfFile: "\(plan.reportsPath)/\(summary.runID).md", encoding: .utf8)
            return (summary, console, report)
        }

        var maildirFiles: [String] {
            let dir = URL(fileURLWithPath: folder.path).standardizedFileURL.path + "/target/u/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        }

        func fileContents() -> [String] {
            let dir = URL(fileURLWithPath: folder.path).standardizedFileURL.path + "/target/u/new"
            return maildirFiles.map {
                String(
                    decoding: FileManager.default.contents(atPath: dir + "/" + $0)!,
                    as: UTF8.self)
            }.sorted()
        }
    }

    static func login(capa: [String] = ["USER", "UIDL"]) -> [FakeStep] {
        [
            .send("+OK fake ready\r\n"), .expect("CAPA"),
            .send("+OK\r\n" + capa.map { $0 + "\r\n" }.joined() + ".\r\n"),
            .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"), .send("+OK logged in\r\n"),
        ]
    }

    static let message1 = "Subject: one\r\n\r\nfirst\r\n"
    static let message2 = "Subject: two\r\n\r\nsecond\r\n"

    @Test func inUseIsWaitingNotFailure() throws {
        let server = try FakeServer(steps: [
            .send("+OK fake\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
            .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"),
            .send("-ERR [IN-USE] Mailbox locked by another session\r\n"),
            .expect("QUIT"), .send("+OK\r\n"),
        ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.error == nil)
        #expect(result.waiting?.contains("[IN-USE]") == true, "\(result)")
        #expect(result.ok)
    }

    @Test func loginDelayIsRespectedOnTheNextRun() throws {
        let server = try FakeServer(
            connections: 1,
            steps: Self.login(capa: ["USER", "UIDL", "LOGIN-DELAY 900"]) + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\nLOGIN-DELAY 900\r\n.\r\n"),
                .expect("LIST"), .send("+OK\r\n.\r\n"), .expect("UIDL"), .send("+OK\r\n.\r\n"),
                .expect("QUIT"), .send("+OK\r\n"),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        server.finish()
        #expect(first.error == nil && first.waiting == nil, "\(first)")
        // The second run must not even connect: the server said 900 s between logins.
        let second = try setup.run()
        #expect(second.waiting?.contains("LOGIN-DELAY") == true, "\(second)")
        #expect(second.error == nil)
    }

    @Test func loginDelayRefusalWaitsAndPostponesTheNextLogin() throws {
        let server = try FakeServer(
            connections: 1,
            steps: [
                .send("+OK fake\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"), .expect("USER u"),
                .send("+OK\r\n"), .expect("PASS pw"), .send("-ERR [LOGIN-DELAY] Too soon, wait a while\r\n"),
                .expect("QUIT"), .send("+OK\r\n"),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        server.finish()
        #expect(first.error == nil && first.waiting?.contains("[LOGIN-DELAY]") == true, "\(first)")
        // Without an announced delay the default is 300 s: the second run does not connect at all.
        let second = try setup.run()
        #expect(second.waiting?.contains("LOGIN-DELAY") == true && second.error == nil, "\(second)")
    }

    @Test func expireZeroIsRefusedBeforeAnyRetrieval() throws {
        let server = try FakeServer(
            steps: Self.login(capa: ["USER", "UIDL", "EXPIRE 0"]) + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\nEXPIRE 0\r\n.\r\n"),
                .respond(["QUIT": "+OK\r\n"]),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.stop()
        server.finish()
        #expect(result.errorKind == .permanent)
        #expect(result.error?.contains("EXPIRE 0") == true, "\(result)")
        #expect(!server.transcript.contains("RETR") && !server.transcript.contains("LIST"))
    }

    static func listing(uidl: String?) -> [FakeStep] {
        [
            .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
            .expect("LIST"), .send("+OK\r\n1 \(message1.utf8.count)\r\n2 \(message2.utf8.count)\r\n.\r\n"),
            .expect("UIDL"), .send(uidl.map { "+OK\r\n\($0)\r\n.\r\n" } ?? "-ERR command not supported\r\n"),
        ]
    }

    static let retrieval: [FakeStep] = [
        .expect("RETR 1"), .send("+OK\r\n\(message1).\r\n"), .expect("RETR 2"), .send("+OK\r\n\(message2).\r\n"),
        .expect("QUIT"), .send("+OK\r\n"),
    ]

    @Test func withoutUIDLTheDefaultRefusesAndSaysWhatToSet() throws {
        let server = try FakeServer(
            steps: Self.login(capa: ["USER"]) + Self.listing(uidl: nil) + [
                .respond(["QUIT": "+OK\r\n"])
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.stop()
        server.finish()
        #expect(result.error?.contains("withoutUIDL: \"header-fingerprint\"") == true, "\(result)")
        #expect(!server.transcript.contains("RETR"))
    }

    @Test func withoutUIDLHeaderFingerprintsIdentifyMessagesAcrossRuns() throws {
        let session: [FakeStep] =
            Self.login(capa: ["USER"]) + Self.listing(uidl: nil) + [
                .expect("TOP 1 0"), .send("+OK\r\nSubject: one\r\n\r\n.\r\n"),
                .expect("TOP 2 0"), .send("+OK\r\nSubject: two\r\n\r\n.\r\n"),
            ]
        let server = try FakeServer(connections: 2) { s in
            for step in session { try s.run(step) }
            if s.number == 0 {
                for step in Self.retrieval { try s.run(step) }
            } else {
                try s.run(.expect("QUIT"))
                try s.send("+OK\r\n")
            }
        }
        let setup = Setup(port: server.port, sourceExtras: ", withoutUIDL: \"header-fingerprint\"")
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        let second = try setup.run()
        server.finish()
        #expect(first.delivered == 2 && first.error == nil, "\(first)")
        #expect(first.notes.contains { $0.contains("no UIDL") })
        #expect(second.delivered == 0 && second.new == 0 && second.error == nil, "\(second)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }

    @Test func sharedUIDLsLoseNeitherMessageAndDeliverEachOnce() throws {
        let session: [FakeStep] = Self.login() + Self.listing(uidl: "1 SAME\r\n2 SAME")
        let server = try FakeServer(connections: 2, steps: session + Self.retrieval)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        let second = try setup.run()
        server.finish()
        #expect(first.delivered == 2, "\(first)")
        #expect(first.notes.contains { $0.contains("share") })
        #expect(second.delivered == 0 && second.duplicate == 0 && second.error == nil, "\(second)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }

    @Test func dropMidRetrieveDeliversNothingPartialAndTheRerunCompletes() throws {
        let server = try FakeServer(connections: 2) { s in
            for step in Self.login() + Self.listing(uidl: "1 A\r\n2 B") { try s.run(step) }
            if s.number == 0 {
                try s.run(.expect("RETR 1"))
                try s.send("+OK\r\nSubject: one\r\n\r\nfir")
                s.close()
            } else {
                for step in Self.retrieval { try s.run(step) }
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let broken = try setup.run()
        #expect(broken.delivered == 0 && broken.errorKind == .transient, "\(broken)")
        #expect(broken.pending == 2)
        #expect(setup.maildirFiles.isEmpty)
        let rerun = try setup.run()
        server.finish()
        #expect(rerun.delivered == 2 && rerun.error == nil, "\(rerun)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }

    /// A message whose retrieval breaks the session every time (here: the server drops the connection in the
    /// middle of it) is counted against: after `quarantineAfter` tries it is set aside, left on the server, and the
    /// rest of the mailbox arrives instead of waiting behind it for good.
    @Test func aMessageThatBreaksEverySessionIsQuarantinedAndTheRestArrive() throws {
        let server = try FakeServer(connections: 3) { s in
            for step in Self.login() + Self.listing(uidl: "1 A\r\n2 B") { try s.run(step) }
            if s.number < 2 {
                try s.run(.expect("RETR 1"))
                try s.send("+OK\r\nSubject: one\r\n\r\nfir")
                s.close()
            } else {
                for step: FakeStep in [
                    .expect("RETR 2"), .send("+OK\r\n\(Self.message2).\r\n"), .expect("QUIT"),
                    .send("+OK\r\n"),
                ] { try s.run(step) }
            }
        }
        let setup = Setup(port: server.port, planExtras: "quarantineAfter: 2,")
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        #expect(first.delivered == 0 && first.quarantined == 0 && first.errorKind == .transient, "\(first)")
        let second = try setup.run()
        #expect(second.delivered == 0 && second.quarantined == 1 && second.pending == 1, "\(second)")
        #expect(
            second.messageErrors.contains { $0.contains("quarantined after 2 retrievals broke the session") },
            "\(second.messageErrors)")
        let third = try setup.run()
        server.finish()
        #expect(third.delivered == 1 && third.error == nil, "\(third)")
        #expect(setup.fileContents() == [Self.message2])
        let plan = try PlanLoader.load(setup.planFile)
        let rows = try Store(path: plan.statePath).inDoubt(mailbox: 1)
        #expect(rows.isEmpty)
    }

    /// A server that trickles a body just fast enough for each read's timeout is cut off once the grace (twice the
    /// timeout) is over and the message has come at less than 1 KiB/s: the mailbox stops as transient, nothing
    /// partial is delivered, and the attempt counts against that message.
    @Test func aTrickledBodyIsCutOffAndCounted() throws {
        let server = try FakeServer(connections: 1) { s in
            for step in Self.login() + Self.listing(uidl: "1 A\r\n2 B") { try s.run(step) }
            try s.run(.expect("RETR 1"))
            try s.send("+OK\r\nSubject: slow\r\n\r\n")
            // About 200 bytes/s, for at most 10 s or until the client hangs up.
            for _ in 0..<2_000 {
                guard (try? s.send("x")) != nil else { break }
                usleep(5_000)
            }
        }
        let setup = Setup(port: server.port, timeout: 1)
        defer { setup.folder.cleanup() }
        let started = Date()
        let result = try setup.run()
        let seconds = Date().timeIntervalSince(started)
        server.finish()
        #expect(result.delivered == 0 && result.errorKind == .transient, "\(result)")
        #expect(result.error?.contains("came too slowly") == true, "\(result.error ?? "")")
        #expect(seconds < 8, "cut after \(seconds) s")
        #expect(setup.maildirFiles.isEmpty)
        let plan = try PlanLoader.load(setup.planFile)
        let store = try Store(path: plan.statePath)
        let row = try #require(try store.message(id: 1))
        #expect(row.uidl == "A" && row.attempts == 1 && row.state == .listed, "\(row)")
    }

    @Test func pipeliningSendsRetrievalsAhead() throws {
        // The server reads all three RETR commands before answering any: a client that waited for each reply
        // would time out here.
        let bodies = ["Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n", "Subject: c\r\n\r\nc\r\n"]
        let list = bodies.enumerated().map { "\($0.offset + 1) \($0.element.utf8.count)\r\n" }.joined()
        let server = try FakeServer(
            steps: Self.login(capa: ["USER", "UIDL", "PIPELINING"]) + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
                .expect("LIST"), .send("+OK\r\n\(list).\r\n"),
                .expect("UIDL"), .send("+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"),
                .expect("RETR 1"), .expect("RETR 2"), .expect("RETR 3"),
                .send(bodies.map { "+OK\r\n\($0).\r\n" }.joined()),
                .expect("QUIT"), .send("+OK\r\n"),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.delivered == 3 && result.error == nil, "\(result)")
        #expect(setup.fileContents() == bodies.sorted())
    }

    @Test func aMessageRefusedByRetrIsDeferredAndTheRestArrive() throws {
        let server = try FakeServer(
            steps: Self.login() + Self.listing(uidl: "1 A\r\n2 B") + [
                .expect("RETR 1"), .send("-ERR no such message\r\n"),
                .expect("RETR 2"), .send("+OK\r\n\(Self.message2).\r\n"), .expect("QUIT"), .send("+OK\r\n"),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.delivered == 1 && result.deferred == 1 && result.error == nil, "\(result)")
        #expect(setup.fileContents() == [Self.message2])
    }

    // MARK: - Plan switches

    /// `allowExpireZero: true`: the admin accepted that retrieval deletes (RFC 2449 §6.7), so the run goes ahead.
    @Test func allowExpireZeroLetsTheRunProceed() throws {
        let server = try FakeServer(
            steps: Self.login(capa: ["USER", "UIDL", "EXPIRE 0"]) + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\nEXPIRE 0\r\n.\r\n"),
                .expect("LIST"),
                .send("+OK\r\n1 \(Self.message1.utf8.count)\r\n2 \(Self.message2.utf8.count)\r\n.\r\n"),
                .expect("UIDL"), .send("+OK\r\n1 A\r\n2 B\r\n.\r\n"),
            ] + Self.retrieval)
        let setup = Setup(port: server.port, sourceExtras: ", allowExpireZero: true")
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.delivered == 2 && result.error == nil, "\(result)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
        #expect(
            result.notes.contains { $0.contains("EXPIRE 0: messages retrieved are deleted from the server") },
            "\(result.notes)")
    }

    /// `pipelining: false`: even with PIPELINING announced, each RETR waits for the previous reply. The server stays
    /// silent a moment after each RETR and fails the script if the next one arrives meanwhile.
    @Test func pipeliningFalseSendsNoRetrievalAhead() throws {
        let bodies = ["Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n", "Subject: c\r\n\r\nc\r\n"]
        let list = bodies.enumerated().map { "\($0.offset + 1) \($0.element.utf8.count)\r\n" }.joined()
        var steps =
            Self.login(capa: ["USER", "UIDL", "PIPELINING"]) + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
                .expect("LIST"), .send("+OK\r\n\(list).\r\n"),
                .expect("UIDL"), .send("+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"),
            ]
        for (index, body) in bodies.enumerated() {
            steps += [.expect("RETR \(index + 1)"), .expectSilence(0.3), .send("+OK\r\n\(body).\r\n")]
        }
        let server = try FakeServer(steps: steps + [.expect("QUIT"), .send("+OK\r\n")])
        let setup = Setup(port: server.port, sourceExtras: ", pipelining: false")
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.delivered == 3 && result.error == nil, "\(result)")
        #expect(server.transcript.plainText.hasSuffix("LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n"))
        #expect(setup.fileContents() == bodies.sorted())
    }

    // MARK: - What a run reports

    /// LIST announced more than RETR gave (RFC 1939 §11 allows an estimate): the message is delivered as received,
    /// and the run says so in its result and its report.
    @Test func listSizeMismatchIsDeliveredAndNoted() throws {
        let server = try FakeServer(
            steps: Self.login() + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
                .expect("LIST"), .send("+OK\r\n1 100\r\n2 \(Self.message2.utf8.count)\r\n.\r\n"),
                .expect("UIDL"), .send("+OK\r\n1 A\r\n2 B\r\n.\r\n"),
            ] + Self.retrieval)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let (summary, _, report) = try setup.runCommand()
        server.finish()
        let result = try #require(summary.mailboxes.first)
        #expect(result.delivered == 2 && result.error == nil && summary.exitCode == 0, "\(result)")
        let note = "message A: LIST said 100 bytes, RETR gave \(Self.message1.utf8.count)"
        #expect(result.notes == [note])
        #expect(report.contains("## Notes\n\n- u: \(note)\n"), "\(report)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }

    /// A unique id outside RFC 1939 §7 (control bytes, 8-bit, a space, over 70 characters) still names one message
    /// on this server: both messages arrive, the bad one under a "~hash" stand-in, and the run says why.
    @Test(arguments: ["bad\u{01}id", "caf\u{E9}", "two words", String(repeating: "u", count: 71)])
    func invalidUIDLsNeverLoseAMessage(uid: String) throws {
        let server = try FakeServer(connections: 2) { s in
            for step in Self.login() + Self.listing(uidl: "1 good-id\r\n2 \(uid)") { try s.run(step) }
            if s.number == 0 {
                for step in Self.retrieval { try s.run(step) }
            } else {
                try s.run(.expect("QUIT"))
                try s.send("+OK\r\n")
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try setup.run()
        let second = try setup.run()
        server.finish()
        #expect(first.delivered == 2 && first.error == nil, "\(first)")
        #expect(
            first.notes == [
                "1 message has a unique id that breaks RFC 1939 (first: message 2); a hash of "
                    + "the server's id stands in for it"
            ])
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
        // The stand-in is stable: the next run knows both messages.
        #expect(second.new == 0 && second.delivered == 0 && second.error == nil, "\(second)")
        let plan = try PlanLoader.load(setup.planFile)
        let uidls = try Store(path: plan.statePath).withDatabaseForTests { db in
            try db.prepare("SELECT uidl FROM messages ORDER BY uidl").rows { $0.text(0) ?? "" }
        }
        #expect(uidls.count == 2 && uidls.first == "good-id" && uidls.last?.hasPrefix("~") == true, "\(uidls)")
    }

    // MARK: - [SYS/TEMP] and [SYS/PERM] (RFC 3206 §4)

    static func passRefused(_ code: String) -> [FakeStep] {
        [
            .send("+OK fake\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\nRESP-CODES\r\n.\r\n"),
            .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"), .send("-ERR [\(code)] mail store trouble\r\n"),
            .expect("QUIT"), .send("+OK\r\n"),
        ]
    }

    /// [SYS/TEMP] at login: the mailbox is deferred (transient), not failed; the run exits 1 and says so; the next
    /// run logs in again at once (no waiting rule as for LOGIN-DELAY) and delivers.
    @Test func sysTempAtLoginDefersTheMailboxAndTheNextRunDelivers() throws {
        let server = try FakeServer(connections: 2) { s in
            if s.number == 0 {
                for step in Self.passRefused("SYS/TEMP") { try s.run(step) }
            } else {
                for step in Self.login() + Self.listing(uidl: "1 A\r\n2 B") + Self.retrieval { try s.run(step) }
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let (summary, console, report) = try setup.runCommand()
        let result = try #require(summary.mailboxes.first)
        #expect(result.errorKind == .transient && result.waiting == nil, "\(result)")
        #expect(result.error?.contains("login as u refused: [SYS/TEMP] mail store trouble") == true, "\(result)")
        #expect(result.delivered == 0 && result.failed == 0 && result.onServer == nil)
        #expect(summary.exitCode == ExitCode.incomplete)
        #expect(summary.mailboxesDeferred == 1 && summary.mailboxErrors == 0)
        #expect(console.contains("1 mailbox deferred (transient); exit 1"), "\(console)")
        #expect(
            report.contains("stopped (transient): ") && report.contains("[SYS/TEMP] mail store trouble"),
            "\(report)")
        #expect(report.contains("- outcome: incomplete (exit 1): see Problems"))
        let rerun = try setup.runCommand()
        server.finish()
        #expect(rerun.summary.exitCode == 0 && rerun.summary.delivered == 2, "\(rerun.console)")
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }

    /// [SYS/PERM] at login: the mailbox is stopped as a lasting problem that needs someone (permanent), the run
    /// exits 1 and the report names it under Problems; nothing was listed or fetched.
    @Test func sysPermAtLoginStopsTheMailbox() throws {
        let server = try FakeServer(steps: Self.passRefused("SYS/PERM"))
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let (summary, console, report) = try setup.runCommand()
        server.finish()
        let result = try #require(summary.mailboxes.first)
        #expect(result.errorKind == .permanent && result.waiting == nil, "\(result)")
        #expect(result.error?.contains("login as u refused: [SYS/PERM] mail store trouble") == true, "\(result)")
        #expect(summary.exitCode == ExitCode.incomplete)
        #expect(summary.mailboxErrors == 1 && summary.mailboxesDeferred == 0)
        #expect(console.contains("1 mailbox stopped; exit 1"), "\(console)")
        #expect(
            report.contains("stopped (permanent): ") && report.contains("[SYS/PERM] mail store trouble"),
            "\(report)")
        #expect(!server.transcript.contains("LIST") && !server.transcript.contains("RETR"))
        #expect(setup.maildirFiles.isEmpty)
    }

    /// [SYS/TEMP] or [SYS/PERM] for one RETR: that message is deferred with the server's reason (a later run tries
    /// again; repeated failures quarantine it), the other arrives, exit 1.
    @Test(arguments: ["SYS/TEMP", "SYS/PERM"])
    func sysCodeForOneRetrievalDefersThatMessage(code: String) throws {
        let server = try FakeServer(
            steps: Self.login() + Self.listing(uidl: "1 A\r\n2 B") + [
                .expect("RETR 1"), .send("-ERR [\(code)] try again later\r\n"),
                .expect("RETR 2"), .send("+OK\r\n\(Self.message2).\r\n"), .expect("QUIT"), .send("+OK\r\n"),
            ])
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let (summary, console, report) = try setup.runCommand()
        server.finish()
        let result = try #require(summary.mailboxes.first)
        #expect(result.delivered == 1 && result.deferred == 1 && result.error == nil, "\(result)")
        #expect(result.messageErrors.first?.contains("RETR 1 refused: [\(code)] try again later") == true)
        #expect(summary.exitCode == ExitCode.incomplete)
        #expect(console.contains("1 deferred; exit 1"), "\(console)")
        #expect(report.contains("RETR 1 refused: [\(code)] try again later"), "\(report)")
        let plan = try PlanLoader.load(setup.planFile)
        let row = try Store(path: plan.statePath).withDatabaseForTests { db in
            try db.prepare("SELECT state, error_kind FROM messages WHERE uidl = 'A'").rows {
                "\($0.text(0) ?? "") \($0.text(1) ?? "")"
            }
        }
        #expect(row == ["deferred transient"])
        #expect(setup.fileContents() == [Self.message2])
    }

    // MARK: - OAuth tokens from a command

    /// A plan's `token: { command: [...] }`: the run starts the program with its arguments, and what it prints is
    /// the token inside the exact SASL response the server checks, for XOAUTH2 and for OAUTHBEARER.
    @Test(arguments: ["XOAUTH2", "OAUTHBEARER"])
    func tokenFromAPlanCommandLogsIn(mechanism: String) throws {
        let server = try FakeServer(
            steps: [
                .send("+OK fake\r\n"), .expect("CAPA"), .send("+OK\r\nSASL \(mechanism)\r\nUIDL\r\n.\r\n"),
                .expect("AUTH \(mechanism)"), .send("+ \r\n"),
                .run { session in
                    try session.expect(
                        TokenTraceTests.saslPayload(
                            mechanism, user: "u", token: "tok-for-u-from-helper",
                            port: session.serverPort))
                },
                .send("+OK welcome\r\n"),
            ] + Self.listing(uidl: "1 A\r\n2 B") + Self.retrieval)
        let folder = TempFolder("token-helper")
        defer { folder.cleanup() }
        let helper = folder.file("get-token", "#!/bin/sh\necho \"tok-for-$1-from-helper\"\n", mode: 0o700)
        let setup = Setup(
            port: server.port, auth: "[\"\(mechanism.lowercased())\"]",
            credential: "token: { command: [\"\(helper)\", \"u\"] }")
        defer { setup.folder.cleanup() }
        let result = try setup.run()
        server.finish()
        #expect(result.delivered == 2 && result.error == nil, "\(result)")
        #expect(result.authMethod == mechanism.lowercased())
        #expect(setup.fileContents() == [Self.message1, Self.message2].sorted())
    }
}
