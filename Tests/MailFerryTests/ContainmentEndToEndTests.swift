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

/// Containment and ownership through the real binary, with a real Dovecot as the legacy server (SECURITY.md).
@Suite(.serialized) struct ContainmentEndToEndTests {
    /// A catch-all message whose only recipient, recovered from trusted trace headers, is `local`@wingtiptoys.com.
    static func message(to local: String, subject: String, header: String = "X-Original-To") -> [UInt8] {
        var lines = [
            "Return-Path: <sender@example.net>",
            "\(header): \(local)@wingtiptoys.com",
            "Delivered-To: everyone@wingtip-isp.example",
            "Received: from mail.example.net (mail.example.net [192.0.2.5])",
            "\tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 4Q1; Mon, 2 Nov 2026 10:00:00 +0100",
            "From: Sender <sender@example.net>",
        ]
        if header != "To" { lines.append("To: Someone <someone@example.net>") }
        lines += [
            "Subject: \(subject)", "Date: Mon, 2 Nov 2026 09:59:58 +0100",
            "Message-ID: <\(UUID().uuidString)@example.net>", "", "Body of \(subject).", "",
        ]
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// Every path under `root` (not following links), relative to it.
    static func tree(_ root: String) -> Set<String> {
        var out: Set<String> = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
        while let path = walker.nextObject() as? String { out.insert(path) }
        return out
    }

    @Test func hostileRecipientsReachTheFallbackAndNothingLeavesTheRoot() throws {
        let folder = TempFolder("containment")
        defer { folder.cleanup() }
        let users = ["everyone": "pw-everyone-\(UUID().uuidString.prefix(6))"]
        let lab = try DovecotLab.start(users: users)
        defer { lab.stop() }
        let hostile = HostileNames.localParts
        var messages = hostile.enumerated().map { Self.message(to: $0.element, subject: "hostile \($0.offset)") }
        // Only To: names the stranger's choice (no envelope recipient at all).
        messages.append(
            Array(
                """
                Return-Path: <sender@example.net>
                From: sender@example.net
                To: ../../escaped-to@wingtiptoys.com
                Subject: hostile to-only
                Message-ID: <to-only@example.net>

                Only To names a recipient.

                """.utf8))
        messages.append(Self.message(to: "dana", subject: "for dana"))
        try lab.seed(user: "everyone", messages: messages)
        let secret = folder.file("secrets/everyone", users["everyone"]! + "\n")
        let plan = folder.file(
            "jobs/contain.json5",
            """
            { plan: "contain",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { archive: { kind: "maildir", path: "target/maildir/{mailbox}" } },
              mailboxes: [ { source: "isp", user: "everyone", password: { file: "\(secret)" }, target: "archive",
                             mailbox: "everyone@contoso.example",
                             global: { domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                                       trustedHosts: ["mx1.wingtip-isp.example"],
                                       fallback: "postmaster@contoso.example" } } ] }
            """)
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        let parent = (workspace as NSString).deletingLastPathComponent
        let parentBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
        let before = Self.tree(workspace)

        let preview = try ChildProcess(EndToEnd.binary, ["route", plan, "--dry-run"])
            .finish(within: 120, "mailferry route")
        #expect(preview.code == 0, "\(preview.err)")
        // Each hostile message goes to the fallback and nowhere else. Addresses the header parser already refuses
        // (NUL, control characters, a backslash, a 10,000-byte local part) never become recipients; the others are
        // refused as mailbox names, with the reason.
        let blocks = preview.out.components(separatedBy: "\n\n")
        for index in hostile.indices + [-1] {
            let subject = index < 0 ? "hostile to-only" : "hostile \(index)"
            let block = blocks.first { $0.contains("B) \(subject)\n") } ?? ""
            #expect(block.contains("deliver    postmaster@contoso.example  (fallback"), "\(subject): \(block)")
            #expect(block.components(separatedBy: "deliver ").count == 2, "\(subject): \(block)")
        }
        let parsable = hostile.filter {
            !$0.contains("\0") && !$0.contains("\u{1}") && !$0.contains("\u{7F}")
                && !$0.contains("\\") && $0.count < 1000
        }
        #expect(
            preview.out.components(separatedBy: "refused as a mailbox name").count - 1 == parsable.count + 1,
            "\(preview.out)")

        let run = try ChildProcess(EndToEnd.binary, ["run", plan]).finish(within: 300, "mailferry run")
        #expect(run.code == 0, "\(run.out)\(run.err)")

        // Nothing new beside the workspace (the reported escape landed two levels above the Maildir root).
        let parentAfter = Set((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
        #expect(parentAfter.subtracting(parentBefore).filter { $0.contains("@") || $0.contains("escaped") }.isEmpty)
        // Inside it, only the state, the reports and the two Maildirs under the target root are new.
        let added = Self.tree(workspace).subtracting(before)
        let outside = added.filter {
            !($0.hasPrefix("state") || $0.hasPrefix("reports") || $0 == "target" || $0 == "target/maildir"
                || $0 == "target/maildir/.mailferry-contain"  // the state's marker in the target's root
                || $0.hasPrefix("target/maildir/postmaster@contoso.example")
                || $0.hasPrefix("target/maildir/dana@contoso.example"))
        }
        #expect(outside.isEmpty, "written outside the target's Maildirs: \(outside.sorted())")
        let maildirs = try FileManager.default.contentsOfDirectory(atPath: workspace + "/target/maildir")
            .filter { !$0.hasPrefix(".mailferry-") }.sorted()
        #expect(maildirs == ["dana@contoso.example", "postmaster@contoso.example"])

        // Every hostile message sits in the fallback, whole; dana's in hers.
        let fallback = workspace + "/target/maildir/postmaster@contoso.example/new"
        let stored = try FileManager.default.contentsOfDirectory(atPath: fallback).map {
            String(decoding: FileManager.default.contents(atPath: fallback + "/" + $0)!, as: UTF8.self)
        }
        #expect(stored.count == hostile.count + 1)
        for index in hostile.indices {
            #expect(stored.contains { $0.contains("Body of hostile \(index).") }, "hostile \(index) missing")
        }
        #expect(stored.contains { $0.contains("Only To names a recipient.") })
        #expect(maildirFileCount(workspace + "/target/maildir/dana@contoso.example") == 1)

        // The report lists each with its reason.
        let reports = try FileManager.default.contentsOfDirectory(atPath: workspace + "/reports/contain")
        let markdown = try #require(reports.first { $0.hasSuffix(".md") })
        let report = try String(contentsOfFile: workspace + "/reports/contain/" + markdown, encoding: .utf8)
        #expect(report.contains("Routing to check"), "\(report)")
        #expect(report.contains("everyone@contoso.example: \(hostile.count + 1) to the fallback"), "\(report)")
        #expect(
            report.components(separatedBy: "refused as a mailbox name").count - 1 == parsable.count + 1,
            "\(report)")
    }

    /// A '..' in a plan's Maildir path, and CSV values that would escape, are refused by check and run with exit 2 and
    /// the place (`file:line:col`).
    @Test func planAndCSVValuesThatWouldEscapeAreRefused() throws {
        let folder = TempFolder("containment-plan")
        defer { folder.cleanup() }
        _ = folder.file("secrets/pw", "secret\n")
        let csv = folder.file(
            "jobs/people.csv",
            """
            mailbox,user,password
            chris@contoso.example,chris,file:secrets/pw
            kelly@contoso.example,../../x,file:secrets/pw
            ../../y@contoso.example,sam,file:secrets/pw

            """)
        let plans = [
            (
                "dotdot-path",
                """
                { plan: "p",
                  sources: { isp: { host: "127.0.0.1", port: 995 } },
                  targets: { archive: { kind: "maildir",
                                        path: "../outside/{mailbox}" } },
                  mailboxes: [ { source: "isp", user: "chris", password: { file: "secrets/pw" }, target: "archive",
                                 mailbox: "chris@contoso.example" } ] }
                """, ["jobs/dotdot-path.json5:4:25: targets.archive.path: has a '..' folder"]
            ),
            (
                "csv",
                """
                { plan: "p",
                  sources: { isp: { host: "127.0.0.1", port: 995 } },
                  targets: { archive: { kind: "maildir", path: "mail/{user}/Maildir" } },
                  mailboxList: { csv: "\(csv)", source: "isp", target: "archive" } }
                """,
                [
                    "jobs/people.csv:3:23: user: \"../../x\" cannot be a folder name",
                    "jobs/people.csv:4:1: mailbox: \"../../y@contoso.example\" cannot name a mailbox",
                ]
            ),
        ]
        for (name, text, expected) in plans {
            let plan = folder.file("jobs/\(name).json5", text)
            for command in [["check", plan, "--offline"], ["run", plan]] {
                let result = try ChildProcess(EndToEnd.binary, command).finish(within: 60, "mailferry")
                #expect(result.code == 2, "\(command): \(result.out)\(result.err)")
                for line in expected {
                    #expect((result.out + result.err).contains(line), "\(command) lacks \(line): \(result.err)")
                }
            }
        }
        #expect(
            !FileManager.default.fileExists(
                atPath: (folder.path as NSString).deletingLastPathComponent
                    + "/outside"))
    }

    /// Run as root into a Maildir root that belongs to an unprivileged user: every folder and file created belongs
    /// to that user (modes 0700 and 0600), and a real Dovecot running as that user reads every message over IMAP.
    @Test(.enabled(if: geteuid() == 0, "needs root: mailferry hands what it creates to another user"))
    func asRootIntoARootOwnedByAnotherUser() throws {
        let e2e = try EndToEnd("containment-owner", counts: ["dana": 12])
        let lab = e2e.lab
        // The lab's homes folder is Dovecot's mail root; its mail processes run as `nobody`. Give the root to
        // that user and point the target at the home of a new account, dana-new.
        let homes = lab.maildir(of: "dana").deletingLastPathComponent().deletingLastPathComponent().path
        var labInfo = stat()
        #expect(stat(lab.maildir(of: "dana").path, &labInfo) == 0)
        let (uid, gid) = (labInfo.st_uid, labInfo.st_gid)
        #expect(uid != 0, "the lab's mail identity must be unprivileged")
        #expect(chown(homes, uid, gid) == 0)
        let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
            .replacingOccurrences(
                of: #"{ kind: "maildir", path: "target/{mailbox}" }"#,
                with: #"{ kind: "maildir", path: "\#(homes)/{local}/Maildir" }"#
            )
            .replacingOccurrences(of: "dana@contoso.example", with: "dana-new@contoso.example")
        try plan.write(toFile: e2e.planFile, atomically: false, encoding: .utf8)
        // check tells who will own what a run creates.
        let check = try ChildProcess(EndToEnd.binary, ["check", e2e.planFile, "--json"]).finish(within: 120, "check")
        #expect(check.code == 0, "\(check.out)\(check.err)")
        #expect(check.out.contains("created as \(systemUserName(uid)):\(systemGroupName(gid))"), "\(check.out)")
        let run = try e2e.run()
        #expect(run.code == 0, "\(run.out)\(run.err)")

        let created = homes + "/dana-new"
        var paths = [created] + Self.tree(created).map { created + "/" + $0 }
        paths.sort()
        #expect(paths.count >= 5 + 12)
        for path in paths {
            var info = stat()
            #expect(lstat(path, &info) == 0)
            #expect(info.st_uid == uid && info.st_gid == gid, "\(path) belongs to \(info.st_uid):\(info.st_gid)")
            let isFolder = info.st_mode & S_IFMT == S_IFDIR
            #expect(info.st_mode & 0o777 == (isFolder ? 0o700 : 0o600), "\(path) has mode \(info.st_mode & 0o777)")
        }
        // Dovecot, running as that user, serves what was migrated: every message, byte for byte (as it stores it).
        try lab.addUser("dana-new", password: "unused-\(UUID().uuidString)")
        let probe = try lab.probe("dana-new")
        defer { probe.logout() }
        let served = try probe.messages(in: "INBOX")
        let legacy = try e2e.serverMessages("dana")
        #expect(served.count == legacy.count && served.count == 12)
        let expected = Set(legacy.values.map { DovecotLab.served($0) })
        #expect(Set(served.map(\.body)) == expected)
    }
}
