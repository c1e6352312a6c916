import Foundation
import MailFerryLab
import Synchronization
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// `keepPOP3UIDL` (issue 23) against a real Dovecot: the legacy mailboxes ("alice"...) and the new ones
/// ("alice-new"...) live in one lab Dovecot; the plan's Maildir target is the new accounts' own Maildirs, so a POP3
/// session to the new account shows what a person's Outlook or Thunderbird would see after the move.
///
/// The legacy messages carry UIDLs no Dovecot would make up ("wingtip-alice-0007-…", from the `P` records of the
/// legacy Maildir's uidlist), so a listing can only match when mailferry carried them over; legacy mail that
/// arrives later gets Dovecot's own UIDLs (`%08Xu%08Xv` with the legacy UIDVALIDITY, which the target's differs from).
@Suite(.serialized) struct POP3UIDLEndToEndTests {
    static let users = ["alice", "bob", "carol"]

    /// A lab with the three legacy mailboxes of `count` messages each and their new, empty accounts, and a plan
    /// whose Maildir target is the new accounts' Maildirs.
    final class Setup {
        let lab: DovecotLab
        let folder = TempFolder("uidl")
        let passwords: [String: String]
        let planFile: String

        init(count: Int, keep: Bool = true) throws {
            var passwords: [String: String] = [:]
            for user in POP3UIDLEndToEndTests.users {
                passwords[user] = "pw-\(user)-\(UUID().uuidString.prefix(6))"
                passwords["\(user)-new"] = "pw-\(user)-new-\(UUID().uuidString.prefix(6))"
            }
            self.passwords = passwords
            lab = try DovecotLab.start(users: passwords)
            var mailboxes: [String] = []
            for (index, user) in POP3UIDLEndToEndTests.users.enumerated() {
                let names = try lab.seed(
                    user: user,
                    messages: Corpus.mailbox(
                        user: user, domain: "wingtip.example", count: count, seed: UInt64(40 + index),
                        bigAttachment: false))
                try Self.writeLegacyUIDList(lab.maildir(of: user).path, names: names, user: user)
                let secret = folder.file("secrets/\(user)", passwords[user]! + "\n")
                mailboxes.append(
                    """
                    { source: "isp", user: "\(user)", password: { file: "\(secret)" }, target: "dovecot",
                      mailbox: "\(user)-new@contoso.example" }
                    """)
            }
            let template = lab.maildir(of: "alice-new").path.replacingOccurrences(of: "/alice-new/", with: "/{local}/")
            // The Maildirs belong to the lab's mail user, as a mail server's do to vmail.
            var owner = stat()
            stat(lab.maildir(of: "alice-new").path, &owner)
            planFile = folder.file(
                "jobs/uidl.json5",
                """
                {
                  plan: "uidl",
                  parallel: 3,
                  sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), tls: "implicit",
                                    caFile: "\(lab.caFile.path)", timeoutSeconds: 20 } },
                  targets: { dovecot: { kind: "maildir", path: "\(template)", keepPOP3UIDL: \(keep),
                                       owner: \(owner.st_uid), group: \(owner.st_gid) } },
                  mailboxes: [
                    \(mailboxes.joined(separator: ",\n"))
                  ],
                }
                """)
        }

        deinit {
            lab.stop()
            folder.cleanup()
        }

        /// The legacy server's own UIDLs: `P` records a test writes before Dovecot first opens the mailbox.
        static func writeLegacyUIDList(_ maildir: String, names: [String], user: String) throws {
            var text = "3 V1234567 N\(names.count + 1) G\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))\n"
            for (index, name) in names.enumerated() {
                text += "\(index + 1) P" + String(format: "wingtip-%@-%04d-%@", user, index + 1, "x7q") + " :\(name)\n"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: maildir + "/dovecot-uidlist"))
            var owner = stat()
            stat(maildir, &owner)
            chown(maildir + "/dovecot-uidlist", owner.st_uid, owner.st_gid)
        }

        func run() throws -> (code: Int32, out: String, err: String) {
            try EndToEnd.mailferry(["run", planFile], in: folder.path, timeout: 300)
        }

        /// UIDL listing of `user`'s POP3 maildrop, in POP3 order.
        func uidls(_ user: String) throws -> [String] {
            let client = POP3Client(
                endpoint: ServerEndpoint(
                    host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
                    tlsSettings: TLSSettings(caFile: lab.caFile.path)))
            defer { client.quit() }
            do {
                try client.connect()
                try client.login(user: user, password: passwords[user]!)
                return try client.listing().map(\.uidl)
            } catch {
                print("POP3 listing of \(user) failed: \(error)\n" + lab.logTail(lines: 30))
                throw error
            }
        }

        /// Dovecot's log lines about a uidlist: none may be there.
        var uidlistComplaints: [String] {
            let log = (try? String(contentsOf: lab.logFile, encoding: .utf8)) ?? ""
            return log.split(separator: "\n").map(String.init).filter {
                $0.contains("uidlist") || $0.contains("Duplicate file entry") || $0.contains("UIDs not ordered")
                    || $0.contains("next_uid") || $0.contains("Error:") || $0.contains("Panic")
            }
        }
    }

    /// 3 × 200 through a run: each new account's POP3 listing is its legacy listing, UIDL for UIDL in the legacy
    /// order; a second run changes nothing, and legacy mail that arrives later keeps its (Dovecot-made) legacy UIDLs
    /// through a third run.
    @Test func newAccountsListTheLegacyUIDLsInTheLegacyOrderAcrossRuns() throws {
        let setup = try Setup(count: 200)
        let legacy = try Self.users.map { try setup.uidls($0) }
        #expect(legacy.map(\.count) == [200, 200, 200])
        #expect(legacy[0][6] == "wingtip-alice-0007-x7q")
        let check = try EndToEnd.mailferry(["check", setup.planFile], in: setup.folder.path)
        #expect(check.out.contains("note: target: POP3 UIDLs kept: each message gets the UIDL"), "\(check.out)")
        #expect(check.out.contains("none there yet: the first run creates it"), "\(check.out)")
        let first = try setup.run()
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        var matching = 0
        for (index, user) in Self.users.enumerated() {
            let migrated = try setup.uidls("\(user)-new")
            #expect(migrated == legacy[index], "\(user): \(migrated.prefix(3)) vs \(legacy[index].prefix(3))")
            matching += zip(migrated, legacy[index]).filter { $0 == $1 }.count
        }
        #expect(matching == 600)

        let second = try setup.run()
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        for (index, user) in Self.users.enumerated() { #expect(try setup.uidls("\(user)-new") == legacy[index]) }

        // New legacy mail: Dovecot numbers it and gives it its own UIDLs (%08Xu%08Xv).
        for (index, user) in Self.users.enumerated() {
            try setup.lab.seed(
                user: user,
                messages: Corpus.mailbox(
                    user: user, domain: "wingtip.example", count: 7, seed: UInt64(90 + index), bigAttachment: false))
        }
        let later = try Self.users.map { try setup.uidls($0) }
        #expect(later.map(\.count) == [207, 207, 207])
        #expect(later[0][200] == String(format: "%08x%08x", 201, 1_234_567))
        let third = try setup.run()
        #expect(third.code == 0, "\(third.out)\n\(third.err)")
        for (index, user) in Self.users.enumerated() {
            let migrated = try setup.uidls("\(user)-new")
            #expect(migrated == later[index], "\(user): \(migrated.suffix(3)) vs \(later[index].suffix(3))")
        }
        #expect(setup.uidlistComplaints.isEmpty, "\(setup.uidlistComplaints)")

        // verify reads the UIDLs back; one changed behind its back is named, and the verdict is exit 1.
        let verified = try EndToEnd.mailferry(["verify", setup.planFile], in: setup.folder.path)
        #expect(verified.code == 0, "\(verified.out)\n\(verified.err)")
        #expect(verified.out.contains("207 on server, 207 in target, 207 with the legacy POP3 UIDL"), "\(verified.out)")
        #expect(verified.out.contains("; 0 messages without the legacy POP3 UIDL"), "\(verified.out)")
        let uidlist = setup.lab.maildir(of: "bob-new").path + "/dovecot-uidlist"
        let text = try String(contentsOfFile: uidlist, encoding: .utf8)
        try text.replacingOccurrences(of: " Pwingtip-bob-0002-x7q ", with: " Pchanged ").write(
            toFile: uidlist, atomically: true, encoding: .utf8)
        let tampered = try EndToEnd.mailferry(["verify", setup.planFile], in: setup.folder.path)
        #expect(tampered.code == 1, "\(tampered.out)\n\(tampered.err)")
        #expect(tampered.out.contains("without the legacy POP3 UIDL:\n"), "\(tampered.out)")
        #expect(tampered.out.contains("wingtip-bob-0002-x7q"), "\(tampered.out)")
        #expect(tampered.out.contains("gives it the POP3 UIDL changed, not the legacy one"), "\(tampered.out)")
    }

    /// The same while Dovecot delivers other mail into the same Maildirs over LMTP during the run: Dovecot's log
    /// has no uidlist complaint, every migrated message is there once with its legacy UIDL in the legacy order, and
    /// every LMTP message is there once too.
    @Test func concurrentLMTPDeliveryCorruptsNothing() throws {
        let setup = try Setup(count: 200)
        let legacy = try Self.users.map { try setup.uidls($0) }
        let dir = TempFolder("uidl-lmtp")
        defer { dir.cleanup() }
        let stop = Atomic<Bool>(false)
        let sent = Mutex<[String: Int]>([:])
        let failure = Mutex<String?>(nil)
        let group = DispatchGroup()
        let lmtpPort = setup.lab.ports.lmtp
        let going = DispatchSemaphore(value: 0)
        // Until the run has ended (at most 300 messages a mailbox): other mail, one LMTP session per mailbox.
        for user in Self.users {
            DispatchQueue.global().async(group: group) {
                let lmtp = LMTPDelivery.make(
                    port: lmtpPort, timeout: 20, recipients: ["\(user)-new@contoso.example"])
                defer { lmtp.close() }
                var number = 0
                while !stop.load(ordering: .relaxed) && number < 300 {
                    number += 1
                    do {
                        let spool = try makeSpool(dir, sampleMessage("other mail \(number) for \(user)"))
                        _ = try lmtp.deliverToAll(DeliveryRequest(token: "t", spool: spool, arrival: Date()))
                        if sent.withLock({
                            $0[user, default: 0] += 1
                            return $0[user]!
                        }) == 1 {
                            going.signal()
                        }
                    } catch {
                        failure.withLock { $0 = $0 ?? "\(error)" }
                        return
                    }
                }
            }
        }
        // The run starts once every mailbox's LMTP session has delivered (bounded: a failure ends the wait too).
        for _ in Self.users { _ = going.wait(timeout: .now() + 60) }
        let child = try ChildProcess(EndToEnd.binary, ["run", setup.planFile])
        let result = child.finish(within: 300, "mailferry run")
        stop.store(true, ordering: .relaxed)
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(failure.withLock { $0 } == nil)
        for (index, user) in Self.users.enumerated() {
            let others = sent.withLock { $0[user] ?? 0 }
            #expect(others > 0, "no LMTP delivery to \(user)-new during the run")
            let listed = try setup.uidls("\(user)-new")
            #expect(listed.count == 200 + others)
            #expect(Set(listed).count == listed.count, "\(user): a UIDL listed twice")
            // Migrated messages first (they have a POP3 order), in the legacy order; the LMTP mail after them.
            #expect(Array(listed.prefix(200)) == legacy[index])
            #expect(Set(listed.suffix(others)).isDisjoint(with: legacy[index]))
        }
        #expect(setup.uidlistComplaints.isEmpty, "\(setup.uidlistComplaints)")
    }

    /// A run killed between the renames into new/ and the uidlist (lock held, files without records): Dovecot
    /// overrides the dead process's lock and numbers the files its own way meanwhile; the next run finds the
    /// attempts in doubt and records their legacy UIDLs, so every listing is the legacy one again. A run killed with
    /// the lock held before the renames leaves nothing Dovecot or the next run waits two minutes for.
    @Test(arguments: ["uidlist-before-write@3", "maildir-before-rename@50"])
    func aKilledRunIsCompletedByTheNext(_ crash: String) throws {
        let setup = try Setup(count: 60)
        let legacy = try Self.users.map { try setup.uidls($0) }
        let killed = try EndToEnd.mailferry(
            ["run", setup.planFile], in: setup.folder.path, environment: ["MAILFERRY_CRASH_AT": crash])
        #expect(killed.code != 0)
        // Each mailbox's worker may have held its Maildir's lock when the process died.
        let held = Self.users.map { setup.lab.maildir(of: "\($0)-new").path + "/dovecot-uidlist.lock" }.filter {
            FileManager.default.fileExists(atPath: $0)
        }
        #expect(!held.isEmpty, "the killed run held no uidlist lock")
        for lock in held {
            let text = try String(contentsOfFile: lock, encoding: .utf8)
            #expect(text.hasSuffix(":\(DovecotUIDListFile.hostName)\n"), "\(text)")
        }
        // Dovecot overrides the lock of a process that is gone (after its 2 s grace), and lists what it has.
        let listed = Date()
        for user in Self.users { _ = try setup.uidls("\(user)-new") }
        #expect(Date().timeIntervalSince(listed) < 30)
        let started = Date()
        let again = try setup.run()
        #expect(again.code == 0, "\(again.out)\n\(again.err)")
        #expect(Date().timeIntervalSince(started) < 60)
        for (index, user) in Self.users.enumerated() {
            #expect(try setup.uidls("\(user)-new") == legacy[index], "\(user)")
        }
        #expect(setup.uidlistComplaints.isEmpty, "\(setup.uidlistComplaints)")
    }

    /// Off (the default): the target gets exactly the files it got before, and no uidlist is written or locked.
    @Test func offWritesNoUIDList() throws {
        let setup = try Setup(count: 20, keep: false)
        let result = try setup.run()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        let target = setup.lab.maildir(of: "alice-new").path
        #expect(!FileManager.default.fileExists(atPath: target + "/dovecot-uidlist"))
        #expect(!FileManager.default.fileExists(atPath: target + "/dovecot-uidlist.lock"))
        #expect(maildirFileCount(target) == 20)
        // Dovecot then gives them its own UIDLs, not the legacy ones.
        let legacy = Set(try setup.uidls("alice"))
        #expect(Set(try setup.uidls("alice-new")).isDisjoint(with: legacy))
    }
}
