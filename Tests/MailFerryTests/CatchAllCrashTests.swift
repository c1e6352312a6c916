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

/// A catch-all ("global") legacy mailbox killed mid-run, into IMAP and Maildir: each routed delivery has its own
/// checkpoint, and whatever the kill hit, a message reaches each person it was for exactly once (a message for two
/// people reaches the second even when the crash came after the first). Into IMAP, a rerun right after a crash holds
/// what is in doubt and not in a folder yet (a dead run's APPEND may still land): a run after the settle window
/// delivers it (design.md, "IMAP in doubt").
@Suite(.serialized) struct CatchAllCrashTests {
    @Test(
        arguments: zip(
            ["imap", "imap", "imap", "maildir", "maildir"],
            [
                "after-delivering-commit@10", "after-target-ack@7", "imap-append-literal@5",
                "after-delivering-commit@10", "after-target-ack@7",
            ]))
    func killedCatchAllEndsExactlyOnce(kind: String, point: String) throws {
        let crash = try CatchAllCrashLab(kind: kind, count: 24)
        defer { crash.stop() }
        let (crashed, crashedOut) = try crash.run(environment: ["MAILFERRY_CRASH_AT": point])
        #expect(crashed == 128 + SIGKILL, "\(point): \(crashedOut)")
        #expect(crash.storedCount() < 24, "\(point): \(crash.storedCount()) stored before the rerun")
        let (code, out) = try crash.runThroughSettleWindow(point)
        #expect(code == 0, "\(point): \(out)")
        try crash.expectExactlyOnce(point)
        let (again, againOut) = try crash.run()
        #expect(again == 0 && againOut.contains("0 messages delivered"), "\(point): \(againOut)")
    }

    /// 25 SIGKILLs at random moments of a catch-all's migration (120 messages, a quarter for two people), then a run
    /// to the end: every person's mailbox holds exactly its messages, once, and every row is delivered.
    @Test(arguments: ["maildir", "imap"])
    func randomKillsIntoACatchAll(kind: String) throws {
        let crash = try CatchAllCrashLab(kind: kind, count: 120)
        defer { crash.stop() }
        let kills = try RandomKills(wanted: 25, attempts: 150, total: crash.deliveries, count: crash.fileCount) {
            try crash.start()
        }
        print("random kills into a catch-all (\(kind)): \(kills.summary)")
        let seed = kills.seed
        kills.expectSpread(midMigration: 20)
        let (code, out) = try crash.runThroughSettleWindow("seed \(seed)")
        #expect(code == 0, "seed \(seed): \(out)")
        try crash.expectExactlyOnce("seed \(seed)")
    }
}

/// A Dovecot lab and a plan for crash tests of a catch-all: "everyone" holds `count` messages, each for bob, dana or
/// erin at wingtiptoys.com (every fourth for two of them at once, every sixth for an address nobody has any more,
/// which the fallback gets); the people's own (empty) legacy mailboxes are in the plan, which makes their new
/// addresses known. `kind` is the target: "imap" (Dovecot, through the master user) or "maildir".
final class CatchAllCrashLab {
    static let people = ["bob", "dana", "erin"]
    let kind: String
    let folder: TempFolder
    let lab: DovecotLab
    let plan: String
    let workspace: String
    /// Message-IDs each person's new mailbox ("postmaster" for the fallback) must hold, sorted.
    let expected: [String: [String]]
    /// How many routed deliveries the messages make in all.
    let deliveries: Int
    let count: Int

    init(kind: String, count: Int) throws {
        self.kind = kind
        self.count = count
        let folder = TempFolder("catchall-crash")
        self.folder = folder
        let people = Self.people
        do {
            lab = try DovecotLab.start(
                users: Dictionary(
                    uniqueKeysWithValues: (people + ["everyone"]).map {
                        ($0, "pw-\($0)")
                    }))
        } catch {
            folder.cleanup()
            throw error
        }
        var messages: [[UInt8]] = []
        var expected: [String: [String]] = [:]
        for index in 0..<count {
            let id = "crash-\(index)"
            let body = String(repeating: "Line \(index) of the body.\n", count: 1 + (index % 30) * 7)
            if index % 4 == 3 {
                let pair = [people[index % 3], people[(index + 1) % 3]]
                messages.append(Self.forMany(pair.map { "\($0)@wingtiptoys.com" }, id: id, body: body))
                for person in pair { expected[person, default: []].append("<\(id)@example.org>") }
                continue
            }
            let person = index % 6 == 5 ? "ghost" : people[index % people.count]
            messages.append(
                CatchAllEndToEndTests.traced(
                    "\(person)@wingtiptoys.com", subject: "message \(index)",
                    id: id, body: body))
            expected[person == "ghost" ? "postmaster" : person, default: []].append("<\(id)@example.org>")
        }
        self.expected = expected.mapValues { $0.sorted() }
        deliveries = expected.values.map(\.count).reduce(0, +)
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        self.workspace = workspace
        let lab = self.lab
        do {
            for person in people + ["postmaster"] { try lab.addUser("\(person)-new", password: "unused-\(person)") }
            _ = try lab.seed(user: "everyone", messages: messages)
        } catch {
            lab.stop()
            folder.cleanup()
            throw error
        }
        let own = people.map { person in
            """
            { source: "isp", user: "\(person)", password: { file: "\(folder.file("secrets/\(person)", "pw-\(person)\n"))" },
              target: "archive", mailbox: "\(person)-new@contoso.example" },
            """
        }
        let secret = folder.file("secrets/everyone", "pw-everyone\n")
        let admin = folder.file("secrets/admin", DovecotLab.masterPassword + "\n")
        let target =
            kind == "imap"
            ? """
            { kind: "imap", host: "127.0.0.1", port: \(lab.ports.imaps), tls: "implicit", caFile: "\(lab.caFile.path)",
              user: "\(DovecotLab.masterUser)", password: { file: "\(admin)" }, authorize: "{mailbox}", folder: "INBOX" }
            """ : #"{ kind: "maildir", path: "target/{mailbox}" }"#
        plan = folder.file(
            "jobs/crash.json5",
            """
            { plan: "crash",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { archive: \(target) },
              mailboxes: [
                \(own.joined(separator: "\n"))
                { source: "isp", user: "everyone", password: { file: "\(secret)" }, target: "archive",
                  mailbox: "everyone-new@contoso.example",
                  global: { domains: ["wingtiptoys.com"], rewrite: "{local}-new@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster-new@contoso.example" } },
              ] }
            """)
    }

    func stop() {
        lab.stop()
        folder.cleanup()
    }

    /// A message the provider delivered to several local addresses in one transaction (Exim's Envelope-To).
    static func forMany(_ addresses: [String], id: String, body: String) -> [UInt8] {
        CatchAllEndToEndTests.message([
            "Return-Path: <partner@example.net>",
            "Envelope-To: \(addresses.joined(separator: ", "))",
            "Received: from mail.example.net (mail.example.net [192.0.2.5])",
            "\tby mx1.wingtip-isp.example with esmtp (Exim 4.96) id \(id)",
            "\tfor \(addresses[0]); Fri, 6 Nov 2026 16:45:10 +0000",
            "From: partner@example.net",
            "To: \(addresses.joined(separator: ", "))",
            "Subject: for several people at once",
            "Message-ID: <\(id)@example.org>",
            "",
            body,
        ])
    }

    func start(environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(EndToEnd.binary, ["run", plan], environment: environment)
    }

    func run(environment: [String: String] = [:]) throws -> (Int32, String) {
        let child = try start(environment: environment)
        defer { child.removeOutput() }
        return (child.wait(timeout: 120) ?? -1, child.stdout + child.stderr)
    }

    /// A rerun and, when it held IMAP attempts in doubt (exit 1, said so, nothing stored twice), a run after the
    /// settle window: once Dovecot has ended the killed runs' sessions, the holds are moved back (as
    /// `EndToEnd.pastSettleWindow` does). Returns the last run.
    func runThroughSettleWindow(_ context: String) throws -> (Int32, String) {
        let (code, out) = try run()
        guard kind == "imap", out.contains("in doubt at the IMAP target, left for a later run so") else {
            return (code, out)
        }
        #expect(code == 1, "\(context): \(out)")
        for person in Self.people + ["postmaster"] {
            let stored = stored(person)
            #expect(Set(stored).count == stored.count, "\(context): \(person) holds a message twice")
            let deadline = Date().addingTimeInterval(10)
            while lab.openIMAPSessions(of: "\(person)-new") > 0 && Date() < deadline { usleep(20_000) }
        }
        try Database(path: workspace + "/state/crash.sqlite")
            .execute("UPDATE messages SET next_try_at = 0 WHERE state = 'delivering'")
        return try run()
    }

    /// The person's new mailbox: Dovecot's Maildir, or the Maildir target's.
    func maildir(_ person: String) -> String {
        kind == "imap" ? lab.maildir(of: "\(person)-new").path : "\(workspace)/target/\(person)-new@contoso.example"
    }

    /// The Message-IDs in the person's new mailbox, sorted (duplicates kept).
    func stored(_ person: String) -> [String] {
        let maildir = maildir(person)
        return ["new", "cur"].flatMap { sub in
            ((try? FileManager.default.contentsOfDirectory(atPath: maildir + "/" + sub)) ?? []).compactMap { name in
                let text = String(
                    decoding: FileManager.default.contents(atPath: "\(maildir)/\(sub)/\(name)")
                        ?? Data(), as: UTF8.self)
                // Dovecot stores LF line ends, a Maildir target the server's CRLF ("\r\n" is one Character).
                return text.split { $0 == "\n" || $0 == "\r\n" }.first { $0.hasPrefix("Message-ID: ") }
                    .map { String($0.dropFirst("Message-ID: ".count)) }
            }
        }.sorted()
    }

    /// How many files the people's new mailboxes hold (cheap enough to ask every half millisecond).
    func fileCount() -> Int {
        (Self.people + ["postmaster"]).reduce(0) { $0 + maildirFileCount(maildir($1)) }
    }

    func storedCount() -> Int {
        (Self.people + ["postmaster"]).map { stored($0).count }.reduce(0, +)
    }

    /// Every person's mailbox holds exactly its messages, once; every row (messages and routed deliveries) is
    /// delivered.
    func expectExactlyOnce(_ context: String) throws {
        for person in Self.people + ["postmaster"] {
            #expect(stored(person) == expected[person] ?? [], "\(context): \(person)")
        }
        let db = try Database(path: workspace + "/state/crash.sqlite")
        let states = try db.prepare("SELECT state, count(*) FROM messages GROUP BY state ORDER BY state")
            .rows { "\($0.text(0) ?? "") \($0.int(1))" }
        #expect(states == ["delivered \(count + deliveries)"], "\(context): \(states)")
    }
}
