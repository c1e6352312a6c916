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

/// A catch-all ("global") legacy mailbox through the real binary: each message reaches the person its recovered
/// envelope names (Bcc included), unknown addresses reach the fallback, forged trace lines below the provider's
/// boundary change nothing, and `route --dry-run` shows the same decisions without delivering.
@Suite(.serialized) struct CatchAllEndToEndTests {
    static func message(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\n") + "\n").utf8) }

    static let bcc = message([
        "Return-Path: <sender@example.net>",
        "X-Original-To: dana@wingtiptoys.com",
        "Delivered-To: everyone@wingtip-isp.example",
        "Received: from mail.example.net (mail.example.net [192.0.2.5])",
        "\tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 4Q1",
        "\tfor <dana@wingtiptoys.com>; Mon, 2 Nov 2026 10:00:00 +0100",
        "From: Sender <sender@example.net>",
        "To: Bob <bob@wingtiptoys.com>",
        "Subject: for bob, dana in Bcc",
        "Date: Mon, 2 Nov 2026 09:59:58 +0100",
        "Message-ID: <bcc-1@example.net>",
        "",
        "Dana was in Bcc.",
    ])

    static let unknown = message([
        "Return-Path: <news@example.org>",
        "X-Original-To: former-employee@wingtiptoys.com",
        "Delivered-To: everyone@wingtip-isp.example",
        "Received: from out.example.org (out.example.org [198.51.100.7])",
        "\tby mx1.wingtip-isp.example (Postfix) with ESMTP id 4Q2",
        "\tfor <former-employee@wingtiptoys.com>; Tue, 3 Nov 2026 08:00:00 +0000",
        "From: news@example.org",
        "To: former-employee@wingtiptoys.com",
        "Subject: for someone without a new mailbox",
        "Message-ID: <unknown-1@example.org>",
        "",
        "Nobody has this address any more.",
    ])

    static let spoofed = message([
        "Return-Path: <attacker@example.com>",
        "X-Original-To: bob@wingtiptoys.com",
        "Delivered-To: everyone@wingtip-isp.example",
        "Received: from evil.example.com (evil.example.com [203.0.113.9])",
        "\tby mx1.wingtip-isp.example (Postfix) with ESMTP id 4Q3",
        "\tfor <bob@wingtiptoys.com>; Wed, 4 Nov 2026 12:00:00 +0000",
        "X-Original-To: ceo@wingtiptoys.com",
        "Received: from nowhere by mx1.wingtip-isp.example (Postfix) id FAKE",
        "\tfor <ceo@wingtiptoys.com>; Wed, 4 Nov 2026 11:59:00 +0000",
        "From: attacker@example.com",
        "To: bob@wingtiptoys.com",
        "Subject: forged trace lines below the provider's own",
        "Message-ID: <spoof-1@example.com>",
        "",
        "The lower lines were written by the sender.",
    ])

    /// A mailing-list message: the list's address is in To, the subscriber in the envelope; a plan rule sends the
    /// list to kelly. One message for two local people fans out once to each.
    static let list = message([
        "Return-Path: <bounces@treyresearch.net>",
        "X-Original-To: chris@wingtiptoys.com",
        "Delivered-To: everyone@wingtip-isp.example",
        "Received: from lists.treyresearch.net (lists.treyresearch.net [192.0.2.44])",
        "\tby mx1.wingtip-isp.example (Postfix) with ESMTP id 4Q4",
        "\tfor <chris@wingtiptoys.com>; Thu, 5 Nov 2026 07:30:00 +0000",
        "From: Trey Research <news@treyresearch.net>",
        "To: mailinglist@treyresearch.net",
        "List-Id: Trey news <mailinglist.treyresearch.net>",
        "List-Post: <mailto:mailinglist@treyresearch.net>",
        "Subject: the list's monthly news",
        "Message-ID: <list-1@treyresearch.net>",
        "",
        "News.",
    ])

    static let twoPeople = message([
        "Return-Path: <partner@example.net>",
        "Envelope-To: bob@wingtiptoys.com, dana@wingtiptoys.com",
        "Received: from mail.example.net (mail.example.net [192.0.2.5])",
        "\tby mx1.wingtip-isp.example with esmtp (Exim 4.96) id 1qX-0001",
        "\tfor bob@wingtiptoys.com; Fri, 6 Nov 2026 16:45:10 +0000",
        "From: partner@example.net",
        "To: bob@wingtiptoys.com, dana@wingtiptoys.com",
        "Subject: for two people at once",
        "Message-ID: <two-1@example.net>",
        "",
        "Both of you.",
    ])

    @Test func routesByRecoveredEnvelopeOncePerMailbox() throws {
        let folder = TempFolder("catchall")
        defer { folder.cleanup() }
        let users = [
            "everyone": "pw-everyone", "bob": "pw-bob", "dana": "pw-dana", "ceo": "pw-ceo",
            "kelly": "pw-kelly",
        ]
        let lab = try DovecotLab.start(users: users)
        defer { lab.stop() }
        try lab.seed(user: "everyone", messages: [Self.bcc, Self.unknown, Self.spoofed, Self.list, Self.twoPeople])
        var entries: [String] = []
        for user in users.keys.sorted() {
            let secret = folder.file("secrets/\(user)", users[user]! + "\n")
            let routing =
                user == "everyone"
                ? """
                , global: { domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster@contoso.example",
                            rules: [ { match: "mailinglist@treyresearch.net", mailbox: "kelly@contoso.example" } ] }
                """ : ""
            entries.append(
                """
                { source: "isp", user: "\(user)", password: { file: "\(secret)" }, target: "archive",
                  mailbox: "\(user)@contoso.example"\(routing) }
                """)
        }
        let plan = folder.file(
            "jobs/catchall.json5",
            """
            { plan: "catchall",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [ \(entries.joined(separator: ",\n")) ] }
            """)
        func mailferry(_ arguments: [String]) throws -> (Int32, String) {
            let child = try ChildProcess(EndToEnd.binary, arguments)
            defer { child.removeOutput() }
            return (child.wait(timeout: 120) ?? -1, child.stdout + child.stderr)
        }

        let (previewCode, preview) = try mailferry(["route", plan, "--dry-run", "--mailbox", "isp/everyone"])
        #expect(previewCode == 0, "\(preview)")
        let blocks = preview.components(separatedBy: "\n\n")
        func block(_ subject: String) -> String { blocks.first { $0.contains(subject) } ?? "" }
        #expect(block("dana in Bcc").contains("deliver    dana@contoso.example"), "\(preview)")
        #expect(!block("dana in Bcc").contains("deliver    bob@contoso.example"), "\(preview)")
        #expect(
            block("without a new mailbox").contains("deliver    postmaster@contoso.example  (fallback)"),
            "\(preview)")
        #expect(block("forged trace").contains("deliver    bob@contoso.example"), "\(preview)")
        #expect(!block("forged trace").contains("ceo@contoso.example"), "\(preview)")
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        #expect(!FileManager.default.fileExists(atPath: workspace + "/target"), "a dry run delivers nothing")

        let (code, out) = try mailferry(["run", plan])
        #expect(code == 0, "\(out)")
        func inbox(_ address: String) -> [String] {
            let dir = workspace + "/target/\(address)/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map {
                String(decoding: FileManager.default.contents(atPath: dir + "/" + $0)!, as: UTF8.self)
            }
        }
        // Three people and the fallback; the message for two people reaches each of them once.
        #expect(inbox("dana@contoso.example").count == 2)
        #expect(inbox("dana@contoso.example").contains { $0.contains("Dana was in Bcc.") })
        #expect(inbox("postmaster@contoso.example").count == 1)
        #expect(inbox("postmaster@contoso.example").first?.contains("Nobody has this address") == true)
        #expect(inbox("bob@contoso.example").count == 2)
        #expect(inbox("bob@contoso.example").contains { $0.contains("forged trace lines") })
        #expect(inbox("bob@contoso.example").contains { $0.contains("Both of you.") })
        #expect(inbox("dana@contoso.example").contains { $0.contains("Both of you.") })
        #expect(inbox("kelly@contoso.example").count == 1)
        #expect(inbox("kelly@contoso.example").first?.contains("the list's monthly news") == true)
        #expect(inbox("chris@contoso.example").isEmpty && inbox("ceo@contoso.example").isEmpty)
        // The delivered bytes are what the server sent.
        let expected = String(decoding: Self.bcc, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n")
        #expect(inbox("dana@contoso.example").contains(expected))
        // The Maildir file's mtime is the provider's final Received time: 2 Nov 2026 10:00:00 +0100.
        let danaDir = workspace + "/target/dana@contoso.example/new"
        let danaFiles = try FileManager.default.contentsOfDirectory(atPath: danaDir).filter {
            String(decoding: FileManager.default.contents(atPath: danaDir + "/" + $0)!, as: UTF8.self) == expected
        }
        let mtime = try FileManager.default.attributesOfItem(atPath: danaDir + "/" + danaFiles[0])[.modificationDate]
        #expect((mtime as? Date)?.timeIntervalSince1970 == 1_793_610_000)

        // The store keeps the envelope with provenance and the routing decision; a rerun delivers nothing.
        let db = try Database(path: workspace + "/state/catchall.sqlite")
        let envelopes = try db.prepare(
            """
            SELECT envelope FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
            WHERE b.key = 'isp/everyone' AND m.parent_id IS NULL
            """
        ).rows { $0.text(0) ?? "" }
        #expect(envelopes.count == 5)
        #expect(envelopes.contains { $0.contains("\"header\":\"X-Original-To\"") && $0.contains("\"trusted\":true") })
        let (again, againOut) = try mailferry(["run", plan])
        #expect(again == 0 && againOut.contains("0 messages delivered"), "\(againOut)")
        #expect(inbox("dana@contoso.example").count == 2 && inbox("bob@contoso.example").count == 2)
        // verify finds each routed delivery of the catch-all's messages in its person's Maildir.
        let (verified, verifyOut) = try mailferry(["verify", plan])
        #expect(
            verified == 0
                && verifyOut.contains(
                    "all 5 messages on the legacy servers are in their target "
                        + "mailboxes; 0 duplicates"),
            "\(verifyOut)")
    }

    // MARK: Every routing setting of the plan, end to end

    /// qmail writes the virtual-domain form of the recipient into Delivered-To.
    static let qmail = message([
        "Return-Path: <partner@example.net>",
        "Delivered-To: wingtiptoys.com-erin@wingtiptoys.com",
        "Received: (qmail 4711 invoked by uid 89); 9 Nov 2026 09:00:01 -0000",
        "Received: from unknown (HELO mail.example.net) (192.0.2.5)",
        "  by mx1.wingtip-isp.example with SMTP; 9 Nov 2026 09:00:00 -0000",
        "From: partner@example.net",
        "To: undisclosed-recipients:;",
        "Subject: through qmail",
        "Message-ID: <qmail-1@example.net>",
        "",
        "Erin, through a qmail virtual domain.",
    ])

    static func traced(_ address: String, subject: String, id: String, body: String) -> [UInt8] {
        message([
            "Return-Path: <someone@example.org>",
            "X-Original-To: \(address)",
            "Delivered-To: everyone@wingtip-isp.example",
            "Received: from out.example.org (out.example.org [198.51.100.7])",
            "\tby mx1.wingtip-isp.example (Postfix) with ESMTP id \(id)",
            "\tfor <\(address)>; Tue, 10 Nov 2026 08:00:00 +0000",
            "From: someone@example.org",
            "To: \(address)",
            "Subject: \(subject)",
            "Message-ID: <\(id)@example.org>",
            "",
            body,
        ])
    }

    /// No trace header at all: the recipient can only be guessed from To.
    static let untraced = message([
        "From: colleague@example.org",
        "To: Erin <erin@wingtiptoys.com>",
        "Subject: no trace headers",
        "Message-ID: <untraced-1@example.org>",
        "",
        "Guessed from To.",
    ])

    /// aliases, a header rule, a regex rule, qmailPrefix and reasonHeader from the plan reach a real run: each message
    /// lands where its setting says; only the fallback copy carries the reason header, every other copy is the
    /// server's bytes; the run report lists the fallback and guessed deliveries with UIDL, mailbox and reason; and
    /// `route --dry-run --limit` shows that many messages with the header, position and rule of each decision.
    @Test func planRoutingSettingsReachTheRun() throws {
        let folder = TempFolder("catchall-settings")
        defer { folder.cleanup() }
        let users = ["everyone": "pw-everyone", "erin": "pw-erin"]
        let lab = try DovecotLab.start(users: users)
        defer { lab.stop() }
        let sources: [(name: String, bytes: [UInt8])] = [
            ("qmail", Self.qmail),
            (
                "alias",
                Self.traced(
                    "info@acquired.example", subject: "for the old info address", id: "a1",
                    body: "An alias.")
            ),
            (
                "header",
                Self.traced(
                    "erin@wingtiptoys.com", subject: "Invoice 2026-117", id: "h1",
                    body: "A header rule.")
            ),
            (
                "regex",
                Self.traced(
                    "jobs-2026@wingtiptoys.com", subject: "application", id: "r1",
                    body: "A regex rule.")
            ),
            (
                "fallback",
                Self.traced(
                    "former-employee@wingtiptoys.com", subject: "nobody's any more", id: "f1",
                    body: "The fallback.")
            ),
            ("guessed", Self.untraced),
        ]
        _ = try lab.seed(user: "everyone", messages: sources.map(\.bytes))
        var secrets: [String: String] = [:]
        for (user, password) in users { secrets[user] = folder.file("secrets/\(user)", password + "\n") }
        let plan = folder.file(
            "jobs/settings.json5",
            """
            { plan: "settings",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [
                { source: "isp", user: "erin", password: { file: "\(secrets["erin"]!)" }, target: "archive",
                  mailbox: "erin@contoso.example" },
                { source: "isp", user: "everyone", password: { file: "\(secrets["everyone"]!)" },
                  target: "archive", mailbox: "everyone@contoso.example",
                  global: { domains: ["wingtiptoys.com", "acquired.example"], rewrite: "{local}@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster@contoso.example",
                            rules: [ { match: "Subject: Invoice", mailbox: "accounts@contoso.example" },
                                     { match: "/^jobs-[0-9]+@wingtiptoys\\\\.com$/", mailbox: "hr@contoso.example" } ],
                            aliases: { "info@acquired.example": "frank@contoso.example" },
                            qmailPrefix: "domain", reasonHeader: true } },
              ] }
            """)
        func mailferry(_ arguments: [String]) throws -> (Int32, String) {
            let child = try ChildProcess(EndToEnd.binary, arguments)
            defer { child.removeOutput() }
            return (child.wait(timeout: 120) ?? -1, child.stdout + child.stderr)
        }

        // The dry run: --limit 2 shows the first two waiting messages, each decision with its header and rule.
        let (limitedCode, limited) = try mailferry([
            "route", plan, "--dry-run", "--mailbox", "isp/everyone",
            "--limit", "2",
        ])
        #expect(limitedCode == 0, "\(limited)")
        #expect(limited.contains("  6 on the server, 6 waiting (showing the first 2)"), "\(limited)")
        #expect(limited.components(separatedBy: "\nmessage ").count - 1 == 2, "\(limited)")
        let lines = limited.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "             because erin@wingtiptoys.com from Delivered-To (field 1, trusted): "
                    + "rewrite {local}@contoso.example"), "\(limited)")
        #expect(
            lines.contains(
                "  recipient  erin@wingtiptoys.com  [Delivered-To (field 1, trusted), written "
                    + "wingtiptoys.com-erin@wingtiptoys.com]"), "\(limited)")
        #expect(
            lines.contains(
                "             because info@acquired.example from X-Original-To (field 1, trusted): "
                    + "alias → frank@contoso.example"), "\(limited)")
        #expect(!limited.contains("Invoice"), "\(limited)")
        let (fullCode, full) = try mailferry(["route", plan, "--dry-run", "--mailbox", "isp/everyone"])
        #expect(fullCode == 0 && full.components(separatedBy: "\nmessage ").count - 1 == 6, "\(full)")
        let why = full.split(separator: "\n").filter { $0.contains("because") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        #expect(
            why == [
                "because erin@wingtiptoys.com from Delivered-To (field 1, trusted): rewrite {local}@contoso.example",
                "because info@acquired.example from X-Original-To (field 1, trusted): alias → frank@contoso.example",
                "because erin@wingtiptoys.com from X-Original-To (field 1, trusted): rule 0 (header Subject contains "
                    + "\"Invoice\")",
                "because jobs-2026@wingtiptoys.com from X-Original-To (field 1, trusted): rule 1 (regex "
                    + "/^jobs-[0-9]+@wingtiptoys\\.com$/)",
                "because former-employee@wingtiptoys.com from X-Original-To (field 1, trusted): unknown local address "
                    + "(former-employee@contoso.example is not a known mailbox) → fallback",
                "because erin@wingtiptoys.com from To (field 1, guessed): rewrite {local}@contoso.example",
            ], "\(full)")

        let (code, out) = try mailferry(["run", plan])
        #expect(code == 0, "\(out)")
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        func inbox(_ address: String) -> [[UInt8]] {
            let dir = workspace + "/target/\(address)/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map {
                Array(FileManager.default.contents(atPath: dir + "/" + $0)!)
            }
        }
        func served(_ name: String) -> [UInt8] {
            let bytes = sources.first { $0.name == name }!.bytes
            return Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
        }
        // Every copy but the fallback's is exactly what the server sent.
        #expect(Set(inbox("erin@contoso.example")) == Set([served("qmail"), served("guessed")]))
        #expect(inbox("frank@contoso.example") == [served("alias")])
        #expect(inbox("accounts@contoso.example") == [served("header")])
        #expect(inbox("hr@contoso.example") == [served("regex")])
        // The fallback copy: one field in front, then the server's bytes unchanged.
        let fallback = try #require(inbox("postmaster@contoso.example").first)
        #expect(inbox("postmaster@contoso.example").count == 1)
        let text = String(decoding: fallback, as: UTF8.self)
        #expect(
            text.hasPrefix(
                "X-MailFerry-Routing: fallback; former-employee@wingtiptoys.com from\r\n "
                    + "X-Original-To (field 1, trusted): unknown local address\r\n (former-employee@contoso.example is not "
                    + "a known mailbox) -> fallback\r\n"), "\(text)")
        let header = text.prefix { _ in true }.range(of: "fallback\r\n")!
        #expect(Array(text[header.upperBound...].utf8) == served("fallback"))
        #expect(inbox("everyone@contoso.example").isEmpty)

        // The run report lists the fallback and the guessed delivery with the message's UIDL and the reason.
        let db = try Database(path: workspace + "/state/settings.sqlite")
        let uidls = try db.prepare(
            """
            SELECT m.uidl FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
            WHERE b.key = 'isp/everyone' AND m.parent_id IS NULL ORDER BY m.id
            """
        ).rows { $0.text(0) ?? "" }
        #expect(uidls.count == 6)
        let reports = workspace + "/reports/settings"
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: reports).first {
                $0.hasSuffix(".json") && $0 != "verify.json"
            })
        let data = try Data(contentsOf: URL(fileURLWithPath: reports + "/" + name))
        #expect(SchemaValidator.problems(try ReportTests.json(data), try ReportTests.schema()).isEmpty)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let summary = try decoder.decode(RunSummary.self, from: data)
        let everyone = try #require(summary.mailboxes.first { $0.key == "isp/everyone" })
        let provenance = try #require(everyone.routingProvenance)
        #expect(provenance.fallback == 1 && provenance.guessed == 1 && provenance.notListed == 0)
        #expect(provenance.deliveries.map(\.uidl) == [uidls[4], uidls[5]])
        #expect(provenance.deliveries.map(\.mailbox) == ["postmaster@contoso.example", "erin@contoso.example"])
        #expect(provenance.deliveries.map(\.fallback) == [true, false])
        #expect(provenance.deliveries.map(\.guessed) == [false, true])
        #expect(
            provenance.deliveries[1].reason == "erin@wingtiptoys.com from To (field 1, guessed): rewrite "
                + "{local}@contoso.example")
        #expect(summary.mailboxes.first { $0.key == "isp/erin" }?.routingProvenance == nil)
        let markdown = try String(contentsOfFile: reports + "/" + name.dropLast(5) + ".md", encoding: .utf8)
        #expect(markdown.contains("## Routing to check"))
        #expect(markdown.contains("- everyone@contoso.example: 1 to the fallback, 1 guessed"))
        #expect(
            markdown.contains(
                "| everyone@contoso.example | \(uidls[5]) | erin@contoso.example | guessed | "
                    + "erin@wingtiptoys.com from To (field 1, guessed): rewrite {local}@contoso.example |"),
            "\(markdown)")
    }

    /// reasonHeader through an LMTP target, where a catch-all message's routed people share one transaction: the
    /// two people get the server's bytes in one transaction (one RCPT each), the fallback gets its own transaction
    /// with the reason field in front, and a rerun delivers nothing.
    @Test func fallbackCopyGoesOnItsOwnThroughLMTP() throws {
        let message = Self.message([
            "Return-Path: <partner@example.net>",
            "Envelope-To: bob@wingtiptoys.com, dana@wingtiptoys.com, ghost@wingtiptoys.com",
            "Received: from mail.example.net (mail.example.net [192.0.2.5])",
            "\tby mx1.wingtip-isp.example with esmtp (Exim 4.96) id 1qX-0003",
            "\tfor bob@wingtiptoys.com; Fri, 6 Nov 2026 16:45:10 +0000",
            "From: partner@example.net",
            "To: bob@wingtiptoys.com, dana@wingtiptoys.com, ghost@wingtiptoys.com",
            "Subject: two people and a ghost",
            "Message-ID: <ghost-1@example.net>",
            "",
            "Two of you, and someone who left.",
        ])
        let folder = TempFolder("catchall-lmtp")
        defer { folder.cleanup() }
        // bob and dana receive over LMTP; their legacy maildrops (empty) are what the plan polls for them.
        var users: [String: String] = [:]
        for user in ["everyone", "bob", "dana", "postmaster", "bob-legacy", "dana-legacy"] {
            users[user] = "pw-\(user)-\(UUID().uuidString.prefix(6))"
        }
        let lab = try DovecotLab.start(users: users)
        defer { lab.stop() }
        _ = try lab.seed(user: "everyone", messages: [message])
        func secret(_ user: String) -> String { folder.file("secrets/\(user)", users[user]! + "\n") }
        let plan = folder.file(
            "jobs/lmtp.json5",
            """
            { plan: "lmtp",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { relay: \(EndToEnd.target(.lmtp, lab: lab, folder: folder)) },
              defaults: { source: "isp", target: "relay" },
              mailboxes: [
                { user: "bob-legacy", password: { file: "\(secret("bob-legacy"))" }, mailbox: "bob@contoso.example" },
                { user: "dana-legacy", password: { file: "\(secret("dana-legacy"))" },
                  mailbox: "dana@contoso.example" },
                { user: "everyone", password: { file: "\(secret("everyone"))" }, mailbox: "everyone@contoso.example",
                  global: { domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster@contoso.example",
                            reasonHeader: true } },
              ] }
            """)
        let tracePath = folder.path + "/trace.log"
        func mailferry() throws -> (Int32, String) {
            let child = try ChildProcess(EndToEnd.binary, ["run", plan, "--parallel", "1", "--trace", tracePath])
            defer { child.removeOutput() }
            return (child.wait(timeout: 120) ?? -1, child.stdout + child.stderr)
        }
        func stored(_ user: String) -> [String] {
            ["new", "cur"].flatMap { sub -> [String] in
                let dir = lab.maildir(of: user).path + "/" + sub
                return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map {
                    String(decoding: FileManager.default.contents(atPath: dir + "/" + $0)!, as: UTF8.self)
                }
            }
        }
        let (code, out) = try mailferry()
        #expect(code == 0, "\(out)")
        let sent = try String(contentsOfFile: tracePath, encoding: .utf8).split(separator: "\n").compactMap { line in
            line.range(of: "C: ").map { String(line[$0.upperBound...]) }
        }
        #expect(
            sent.filter { $0.hasPrefix("RCPT TO:") } == [
                "RCPT TO:<bob@contoso.example>",
                "RCPT TO:<dana@contoso.example>",
                "RCPT TO:<postmaster@contoso.example>",
            ], "\(sent)")
        #expect(sent.filter { $0 == "DATA" }.count == 2, "\(sent)")
        // Dovecot's LMTP adds its own Return-Path, Delivered-To and Received on top; below them is what we sent.
        let source = String(decoding: message, as: UTF8.self)
        for person in ["bob", "dana"] {
            #expect(stored(person).count == 1)
            let copy = stored(person).first ?? ""
            #expect(copy.hasSuffix(source) && !copy.contains("X-MailFerry-Routing"), "\(person): \(copy)")
        }
        let fallback = try #require(stored("postmaster").first)
        #expect(stored("postmaster").count == 1)
        let field =
            "X-MailFerry-Routing: fallback; ghost@wingtiptoys.com from Envelope-To (field\n 1, trusted): "
            + "unknown local address (ghost@contoso.example is not a known\n mailbox) -> fallback\n"
        #expect(fallback.hasSuffix(field + source), "\(fallback)")
        let (again, againOut) = try mailferry()
        #expect(again == 0 && againOut.contains("0 messages delivered"), "\(againOut)")
        #expect(stored("bob").count == 1 && stored("dana").count == 1 && stored("postmaster").count == 1)
    }
}
