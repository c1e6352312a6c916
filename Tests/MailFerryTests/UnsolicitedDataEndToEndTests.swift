import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A plan in a temporary folder, run with the real binary, and its newest Markdown report: for scripted servers
/// that a test points the plan at.
struct ScriptedPlanRun {
    let folder = TempFolder("scripted")

    /// Writes the plan, with `sources`, `targets` and one mailbox u (password "pw") of source "old" into target
    /// "box".
    func plan(sources: String, targets: String) -> String {
        let secret = folder.file("secrets/pw", "pw\n")
        return folder.file(
            "jobs/scripted.json5",
            """
            {
              plan: "scripted",
              sources: { \(sources) },
              targets: { \(targets) },
              mailboxes: [ { source: "old", user: "u", password: { file: "\(secret)" }, target: "box",
                             mailbox: "u@contoso.example" } ],
            }
            """)
    }

    func mailferry(_ arguments: [String]) throws -> (code: Int32, out: String, err: String) {
        try EndToEnd.mailferry(arguments, timeout: 120)
    }

    /// The newest run report, as a person reads it.
    func report() throws -> String {
        let reports = folder.path + "/reports/scripted"
        let names = try FileManager.default.contentsOfDirectory(atPath: reports).filter { $0.hasSuffix(".md") }.sorted()
        guard let last = names.last else { throw FakeServerError("no report in \(reports)") }
        return try String(contentsOfFile: reports + "/" + last, encoding: .utf8)
    }

    /// A maildir target: what the source tests deliver into.
    static let maildir = #"box: { kind: "maildir", path: "target/{mailbox}" }"#

    /// A plaintext source at `port` (the scripted POP3 server).
    static func source(port: Int) -> String {
        #"old: { host: "127.0.0.1", port: \#(port), tls: "none", allowPlaintext: true, timeoutSeconds: 5 }"#
    }

    /// A POP3 server that logs u in and serves one message for as long as the client asks.
    static func pop3WithOneMessage() throws -> FakeServer {
        let message = "Subject: one\r\nMessage-ID: <one@example.test>\r\n\r\nfirst\r\n"
        return try FakeServer(
            steps: [
                .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
                .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"), .send("+OK in\r\n"),
                .respond([
                    "CAPA": "+OK\r\nUSER\r\nUIDL\r\n.\r\n", "LIST": "+OK\r\n1 \(message.utf8.count)\r\n.\r\n",
                    "UIDL": "+OK\r\n1 A1\r\n.\r\n", "RETR 1": "+OK\r\n\(message).\r\n",
                    "TOP 1 0": "+OK\r\n\(message).\r\n",
                    "QUIT": "+OK\r\n",
                ]),
            ])
    }

    /// Credential-bearing commands a transcript holds, in any protocol.
    static func credentials(_ transcripts: [FakeTranscript]) -> [String] {
        transcripts.flatMap { transcript in
            (transcript.plainText + transcript.securedText).components(separatedBy: "\r\n").compactMap { line in
                let words = line.split(separator: " ").map { $0.uppercased() }
                // IMAP lines start with a tag.
                let verb = words.first.map { $0.hasPrefix("MF") && words.count > 1 ? words[1] : $0 }
                return ["APOP", "USER", "PASS", "AUTH", "LOGIN", "AUTHENTICATE"].contains(verb ?? "") ? line : nil
            }
        }
    }
}

/// Unsolicited data end to end: `mailferry run` against a POP3 source, an IMAP target and an SMTP target that speak
/// out of turn right after their greeting. No credential reaches any of them, the run exits 1, and the run report
/// names the protocol violation and the server.
@Suite(.serialized) struct UnsolicitedDataEndToEndTests {
    /// The issue's server: greeting, then at once "+OK 2 messages", a scan listing and ".".
    @Test func pop3SourceThatTalksAfterItsGreeting() throws {
        let server = try FakeServer(
            timeout: 10,
            steps: [
                .send("+OK POP3 ready <1896.697170952@dbc.mailcom.com>\r\n+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")
            ])
        let run = ScriptedPlanRun()
        defer { run.folder.cleanup() }
        let plan = run.plan(sources: ScriptedPlanRun.source(port: server.port), targets: ScriptedPlanRun.maildir)
        let result = try run.mailferry(["run", plan])
        server.finish()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        #expect(server.transcripts.allSatisfy { $0.plain.isEmpty && $0.secured.isEmpty }, "\(server.transcripts)")
        #expect(ScriptedPlanRun.credentials(server.transcripts).isEmpty)
        let report = try run.report()
        #expect(
            report.contains(
                "pop3 127.0.0.1:\(server.port): protocol violation: the server sent 33 bytes no command asked for "
                    + "before CAPA, starting \"+OK 2 messages\""), "\(report)")
    }

    /// An IMAP target whose greeting is followed by an untagged flood: no LOGIN, no AUTHENTICATE.
    @Test func imapTargetThatFloodsAfterItsGreeting() throws {
        let source = try ScriptedPlanRun.pop3WithOneMessage()
        let flood = (1...200).map { "* \($0) EXISTS\r\n" }.joined()
        let imap = try FakeServer(
            timeout: 10, steps: [.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready\r\n" + flood)])
        let run = ScriptedPlanRun()
        defer { run.folder.cleanup() }
        let plan = run.plan(
            sources: ScriptedPlanRun.source(port: source.port),
            targets:
                #"box: { kind: "imap", host: "127.0.0.1", port: \#(imap.port), tls: "none", allowPlaintext: true, "#
                + #"timeoutSeconds: 5, user: "admin", password: { file: "secrets/pw" } }"#)
        let result = try run.mailferry(["run", plan])
        source.stop()
        source.finish()
        imap.finish()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        #expect(imap.transcripts.allSatisfy { $0.plain.isEmpty }, "\(imap.transcripts)")
        #expect(ScriptedPlanRun.credentials(imap.transcripts).isEmpty)
        let report = try run.report()
        #expect(
            report.contains("imap 127.0.0.1:\(imap.port): protocol violation: the server sent ")
                && report.contains("before the first command, starting \"* 1 EXISTS\""), "\(report)")
    }

    /// An SMTP target with a second banner: no EHLO, so no AUTH either.
    @Test func smtpTargetWithASecondBanner() throws {
        let source = try ScriptedPlanRun.pop3WithOneMessage()
        let smtp = try FakeServer(
            timeout: 10, steps: [.send("220 relay.example ESMTP\r\n220 relay.example ESMTP, really\r\n")])
        let run = ScriptedPlanRun()
        defer { run.folder.cleanup() }
        let plan = run.plan(
            sources: ScriptedPlanRun.source(port: source.port),
            targets:
                #"box: { kind: "smtp", host: "127.0.0.1", port: \#(smtp.port), tls: "none", allowPlaintext: true, "#
                + #"timeoutSeconds: 5, user: "relay", password: { file: "secrets/pw" } }"#)
        let result = try run.mailferry(["run", plan])
        source.stop()
        source.finish()
        smtp.finish()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        #expect(smtp.transcripts.allSatisfy { $0.plain.isEmpty }, "\(smtp.transcripts)")
        #expect(ScriptedPlanRun.credentials(smtp.transcripts).isEmpty)
        let report = try run.report()
        #expect(
            report.contains(
                "smtp 127.0.0.1:\(smtp.port): protocol violation: the server sent 33 bytes no command asked for "
                    + "before EHLO, starting \"220 relay.example ESMTP, really\""), "\(report)")
    }
}
