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

/// `mailferry check` against a real Dovecot on 127.0.0.1, through the real binary. Serialized: the machine is small
/// and one test checks 200 mailboxes.
@Suite(.serialized) struct CheckTests {
    /// A workspace with a plan file, secret files and a lab.
    final class Workspace {
        let folder = TempFolder("check")
        let lab: DovecotLab
        let passwords: [String: String]

        init(users: [String], seed: [String: Int] = [:]) throws {
            var passwords: [String: String] = [:]
            for user in users { passwords[user] = "pw-\(user)-\(UUID().uuidString.prefix(6))" }
            self.passwords = passwords
            lab = try DovecotLab.start(users: passwords)
            for (index, (user, count)) in seed.sorted(by: { $0.key < $1.key }).enumerated() {
                try lab.seed(
                    user: user,
                    messages: Corpus.mailbox(
                        user: user, domain: "wingtip.example", count: count,
                        seed: UInt64(index + 1), bigAttachment: false))
            }
        }

        deinit {
            lab.stop()
            folder.cleanup()
        }

        var path: String { URL(fileURLWithPath: folder.path).standardizedFileURL.path }

        /// secrets/<user> holding the user's password (or `password` instead), mode 600.
        @discardableResult
        func secret(_ user: String, password: String? = nil) -> String {
            folder.file("secrets/\(user)", (password ?? passwords[user]!) + "\n")
        }

        @discardableResult
        func plan(_ text: String) -> String { folder.file("jobs/check.json5", text) }

        func check(_ arguments: [String] = []) throws -> (code: Int32, out: String, err: String) {
            let child = try ChildProcess(
                EndToEnd.binary, ["check", path + "/jobs/check.json5"] + arguments,
                environment: ["COLUMNS": "200"])
            return child.finish(within: 300, "mailferry check")
        }

        func report(_ arguments: [String] = []) throws -> (code: Int32, report: CheckReport?, err: String) {
            let result = try check(["--json"] + arguments)
            let report = try? JSONDecoder().decode(CheckReport.self, from: Data(result.out.utf8))
            if report == nil { Issue.record("not JSON: \(result.out) \(result.err)") }
            return (result.code, report, result.err)
        }
    }

    @Test func allGreenForAGoodPlan() throws {
        let ws = try Workspace(users: ["alice", "bob", "carol", "dave"], seed: ["alice": 3])
        for user in ["alice", "bob", "carol", "dave"] { ws.secret(user) }
        ws.secret("admin", password: DovecotLab.masterPassword)
        ws.plan(
            """
            {
              plan: "check",
              sources: {
                isp: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit", caFile: "\(ws.lab.caFile.path)",
                       timeoutSeconds: 20 },
                stls: { host: "127.0.0.1", port: \(ws.lab.ports.pop3), tls: "starttls", caFile: "\(ws.lab.caFile.path)",
                        auth: ["cram-md5", "plain"] },
              },
              targets: {
                archive: { kind: "maildir", path: "target/{mailbox}" },
                contoso: { kind: "imap", host: "127.0.0.1", port: \(ws.lab.ports.imaps), caFile: "\(ws.lab.caFile.path)",
                           user: "\(DovecotLab.masterUser)", password: { file: "secrets/admin" }, authorize: "{user}" },
                relay: { kind: "lmtp", host: "127.0.0.1", port: \(ws.lab.ports.lmtp) },
              },
              defaults: { target: "archive", mailbox: "{user}@contoso.example" },
              mailboxes: [
                { source: "isp", user: "alice", password: { file: "secrets/alice" } },
                { source: "stls", user: "bob", password: { file: "secrets/bob" } },
                { source: "isp", user: "carol", password: { file: "secrets/carol" }, target: "contoso" },
                { source: "isp", user: "dave", password: { file: "secrets/dave" }, target: "relay" },
              ],
            }
            """)
        let table = try ws.check()
        #expect(table.code == 0, "\(table.out)\n\(table.err)")
        #expect(table.out.contains("mailferry check: plan check, 4 mailboxes, 2 sources, 3 targets"), "\(table.out)")
        #expect(!table.out.contains("FAIL"), "\(table.out)")
        let lines = table.out.split(separator: "\n").map(String.init)
        let alice = lines.first { $0.hasPrefix("ok    alice@contoso.example") }
        #expect(alice?.contains("TLSv1.3 CN=") == true, "\(table.out)")
        #expect(alice?.contains("UIDL") == true && alice?.contains("PIPELINING") == true, "\(table.out)")
        #expect(alice?.contains("3 (") == true, "\(table.out)")
        #expect(alice?.contains("archive maildir: will be created") == true, "\(table.out)")
        #expect(lines.contains { $0.hasPrefix("ok    bob@contoso.example") && $0.contains("cram-md5") }, "\(table.out)")
        #expect(
            lines.contains { $0.hasPrefix("ok    carol@contoso.example") && $0.contains("contoso imap: INBOX ok") },
            "\(table.out)")
        #expect(
            lines.contains {
                $0.hasPrefix("ok    dave@contoso.example")
                    && $0.contains("relay lmtp: accepts dave@contoso.example")
            }, "\(table.out)")
        #expect(table.out.contains("check: 4 mailboxes, 4 ok in "), "\(table.out)")
        for password in ws.passwords.values { #expect(!table.out.contains(password) && !table.err.contains(password)) }

        let json = try ws.report()
        #expect(json.code == 0)
        let rows = json.report?.mailboxes ?? []
        #expect(rows.map(\.key) == ["isp/alice", "stls/bob", "isp/carol", "isp/dave"])
        let expectedBytes = try ws.lab.maildirSizes("alice")
        #expect(rows.first?.source.messages == 3 && rows.first?.source.bytes == expectedBytes)
        #expect(rows.first?.source.tlsVersion?.hasPrefix("TLSv1.") == true)
        #expect(rows.first?.source.certificateSubject?.contains("CN=") == true)
        #expect(rows[1].source.auth == "cram-md5" && rows[1].source.messages == 0)
        #expect(rows[2].target.tlsVersion?.hasPrefix("TLSv1.") == true && rows[2].target.auth != nil)
        #expect(rows[3].target.server == "127.0.0.1:\(ws.lab.ports.lmtp)")
        #expect(rows.allSatisfy { $0.ok && $0.target.ok && $0.source.reachable })

        // Nothing was written: no Maildir, no state, no report; the legacy mail is untouched.
        #expect(!FileManager.default.fileExists(atPath: ws.path + "/target"))
        #expect(!FileManager.default.fileExists(atPath: ws.path + "/state"))
        #expect(!FileManager.default.fileExists(atPath: ws.path + "/reports"))
        #expect(try ws.lab.maildirSizes("alice") == expectedBytes)
    }

    @Test func theRightRowsGoRedWithClearReasons() throws {
        let ws = try Workspace(users: ["alice", "bob", "carol", "dave", "erin", "fred", "gina"], seed: ["alice": 2])
        let other = try DovecotLab.start(users: [:])
        defer { other.stop() }
        for user in ["alice", "carol", "dave", "erin", "fred", "gina"] { ws.secret(user) }
        ws.secret("bob", password: "not-bobs-password")
        _ = ws.folder.file("not-a-folder", "x")
        let closedPort = try LabPorts.free().lmtp
        let ca = ws.lab.caFile.path
        ws.plan(
            """
            {
              plan: "check",
              sources: {
                isp: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit", caFile: "\(ca)" },
                systemStore: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit" },
                otherCA: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit",
                           caFile: "\(other.caFile.path)" },
                closed: { host: "127.0.0.1", port: \(closedPort), tls: "implicit", caFile: "\(ca)", timeoutSeconds: 5 },
              },
              targets: {
                archive: { kind: "maildir", path: "target/{mailbox}" },
                broken: { kind: "maildir", path: "not-a-folder/{mailbox}" },
                contoso: { kind: "imap", host: "127.0.0.1", port: \(ws.lab.ports.imaps), caFile: "\(ca)",
                           user: "admin", password: { file: "secrets/alice" } },
                relay: { kind: "lmtp", host: "127.0.0.1", port: \(ws.lab.ports.lmtp) },
              },
              defaults: { target: "archive" },
              mailboxes: [
                { source: "isp", user: "alice", password: { file: "secrets/alice" } },
                { source: "isp", user: "bob", password: { file: "secrets/bob" } },
                { source: "systemStore", user: "carol", password: { file: "secrets/carol" } },
                { source: "otherCA", user: "dave", password: { file: "secrets/dave" } },
                { source: "closed", user: "erin", password: { file: "secrets/erin" } },
                { source: "isp", user: "fred", password: { file: "secrets/fred" }, target: "broken" },
                { source: "isp", user: "fred2", password: { file: "secrets/fred" }, target: "contoso" },
                { source: "isp", user: "gina", password: { file: "secrets/gina" }, target: "relay",
                  mailbox: "nobody-here@contoso.example" },
              ],
            }
            """)
        let result = try ws.check()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        let out = result.out
        func block(_ mailbox: String) -> String {
            // The row and the reason lines below it.
            let lines = out.split(separator: "\n").map(String.init)
            guard let start = lines.firstIndex(where: { $0.dropFirst(6).hasPrefix(mailbox + " ") }) else { return "" }
            var text = [lines[start]]
            for line in lines[(start + 1)...] {
                guard line.hasPrefix("      ") else { break }
                text.append(line)
            }
            return text.joined(separator: "\n")
        }
        #expect(block("alice").hasPrefix("ok "), "\(out)")
        #expect(block("bob").hasPrefix("FAIL"), "\(out)")
        #expect(block("bob").contains("login as bob refused") || block("bob").contains("as bob refused"), "\(out)")
        #expect(block("bob").contains("[AUTH]"), "\(out)")
        #expect(block("carol").hasPrefix("FAIL"), "\(out)")
        #expect(block("carol").contains("certificate verify failed"), "\(out)")
        #expect(block("dave").hasPrefix("FAIL"), "\(out)")
        #expect(block("dave").contains("certificate verify failed"), "\(out)")
        #expect(block("erin").hasPrefix("FAIL"), "\(out)")
        #expect(block("erin").contains("cannot connect to 127.0.0.1:\(closedPort): Connection refused"), "\(out)")
        #expect(block("fred").hasPrefix("FAIL"), "\(out)")
        #expect(block("fred").contains("not-a-folder is not a folder"), "\(out)")
        #expect(block("fred2").contains("target: imap 127.0.0.1:\(ws.lab.ports.imaps)"), "\(out)")
        #expect(block("fred2").contains("contoso imap: refused"), "\(out)")
        #expect(block("nobody-here@contoso.example").hasPrefix("FAIL"), "\(out)")
        #expect(
            block("nobody-here@contoso.example").contains("RCPT TO:<nobody-here@contoso.example> refused: 550"),
            "\(out)")
        #expect(out.contains("check: 8 mailboxes, 1 ok, 7 failed in "), "\(out)")
        for password in ws.passwords.values { #expect(!out.contains(password) && !result.err.contains(password)) }
        #expect(!out.contains("not-bobs-password"))

        let json = try ws.report()
        #expect(json.code == 1)
        let byUser = Dictionary(uniqueKeysWithValues: (json.report?.mailboxes ?? []).map { ($0.key, $0) })
        #expect(byUser["isp/alice"]?.ok == true && byUser["isp/alice"]?.source.messages == 2)
        #expect(byUser["isp/bob"]?.source.reachable == true && byUser["isp/bob"]?.source.auth == nil)
        #expect(byUser["systemStore/carol"]?.source.reachable == false)
        #expect(byUser["closed/erin"]?.source.reachable == false)
        // The source of fred is fine; only the target is red.
        #expect(byUser["isp/fred"]?.source.ok == true && byUser["isp/fred"]?.target.ok == false)
    }

    @Test func aCSVPlanWithTwoHundredMailboxes() throws {
        let users = (1...200).map { String(format: "u%03d", $0) }
        let seeded = Dictionary(uniqueKeysWithValues: users.prefix(20).map { ($0, 2) })
        let started = Date()
        let ws = try Workspace(users: users, seed: seeded)
        let labSeconds = Date().timeIntervalSince(started)
        var csv = "mailbox,user,password\n"
        for user in users {
            ws.secret(user)
            csv += "\(user)@contoso.example,\(user),file:secrets/\(user)\n"
        }
        _ = ws.folder.file("jobs/people.csv", csv)
        ws.plan(
            """
            {
              plan: "check",
              parallel: 8,
              sources: { isp: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit",
                                caFile: "\(ws.lab.caFile.path)", maxConnections: 8, timeoutSeconds: 30 } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxList: { csv: "jobs/people.csv", source: "isp", target: "archive" },
            }
            """)
        let offline = try ws.check(["--offline"])
        #expect(offline.code == 0, "\(offline.out)\n\(offline.err)")
        #expect(offline.out.contains("200 mailboxes (200 from CSV lists)"), "\(offline.out)")

        let checkStarted = Date()
        let result = try ws.report()
        let seconds = Date().timeIntervalSince(checkStarted)
        #expect(result.code == 0, "\(result.err)")
        let rows = result.report?.mailboxes ?? []
        #expect(rows.count == 200)
        let failed = rows.filter { !$0.ok }
        #expect(failed.isEmpty, "\(failed.prefix(3))")
        #expect(rows.map(\.key) == users.map { "isp/\($0)" })
        #expect(
            rows.prefix(20).allSatisfy { $0.source.messages == 2 }
                && rows.dropFirst(20).allSatisfy {
                    $0.source.messages == 0
                })
        #expect(rows.first?.origin.hasSuffix("/jobs/people.csv:2") == true)
        #expect(rows.last?.origin.hasSuffix("/jobs/people.csv:201") == true)
        print(
            "check of 200 CSV mailboxes: \(String(format: "%.2f", seconds)) s (parallel 8, maxConnections 8; lab "
                + "with 200 users started in \(String(format: "%.2f", labSeconds)) s)")

        let table = try ws.check()
        #expect(table.code == 0)
        #expect(table.out.split(separator: "\n").filter { $0.hasPrefix("ok    u") }.count == 200)
    }
}

extension DovecotLab {
    /// What POP3 LIST reports for the user's maildrop: the sum of the virtual sizes of the files in new/ and cur/.
    func maildirSizes(_ user: String) throws -> Int {
        var total = 0
        for sub in ["new", "cur"] {
            let dir = maildir(of: user).appendingPathComponent(sub).path
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
                let bytes = [UInt8](FileManager.default.contents(atPath: dir + "/" + name) ?? Data())
                total += DovecotLab.virtualSize(of: bytes)
            }
        }
        return total
    }
}
