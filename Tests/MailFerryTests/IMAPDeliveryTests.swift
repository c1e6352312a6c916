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

/// IMAP APPEND delivery against a real Dovecot (DovecotLab): bytes, INTERNALDATE, flags, folders, master-user logins,
/// UIDPLUS, reconciliation, connection reuse; and one scripted fake server per failure class.
@Suite struct IMAPDeliveryTests {
    static let arrival = Date(timeIntervalSince1970: 1_700_000_000)  // 14-Nov-2023 22:13:20 +0000

    func adminDelivery(
        _ lab: DovecotLab, for user: String, tls: TLSMode = .implicit, folder: String = "INBOX",
        flags: [String] = [], acting: IMAPActingStyle = .saslAuthzid,
        provenance: Bool = false
    ) throws -> IMAPDelivery {
        try IMAPDelivery.make(
            host: "127.0.0.1", port: tls == .implicit ? lab.ports.imaps : lab.ports.imap, tls: tls,
            tlsSettings: lab.tlsSettings, timeout: 20, user: DovecotLab.masterUser,
            password: DovecotLab.masterPassword, authorize: user, acting: acting, folder: folder,
            flags: flags, provenanceHeader: provenance)
    }

    /// The plan's acting, masterSeparator and provenanceHeader reach the delivery a run uses (and their defaults:
    /// SASL authzid, "*", no header), with {mailbox} filled into authorize.
    @Test func planKeysReachTheDelivery() throws {
        let dir = TempFolder("imap-plan")
        defer { dir.cleanup() }
        let secret = dir.file("secrets/admin", "pw\n")
        func delivery(_ extra: String) throws -> IMAPDelivery? {
            let plan = try PlanLoader.load(
                dir.file(
                    "jobs/p.json5",
                    """
                    { plan: "p", sources: { isp: { host: "pop.wingtip-isp.example" } },
                      targets: { t: { kind: "imap", host: "mail.contoso.example", user: "admin",
                                      password: { file: "\(secret)" }, authorize: "{mailbox}" \(extra) } },
                      mailboxes: [ { source: "isp", user: "chris", password: { file: "\(secret)" }, target: "t",
                                     mailbox: "chris@contoso.example" } ] }
                    """))
            return try plan.delivery(for: plan.mailboxes[0], address: "chris@contoso.example") as? IMAPDelivery
        }
        let standard = try #require(try delivery(""))
        #expect(standard.settings.acting == .saslAuthzid && !standard.settings.provenanceHeader)
        #expect(standard.settings.authorize == "chris@contoso.example")
        let master = try #require(try delivery(", acting: \"master\", provenanceHeader: true"))
        #expect(master.settings.acting == .masterUser(separator: "*") && master.settings.provenanceHeader)
        let percent = try #require(try delivery(", acting: \"master\", masterSeparator: \"%\""))
        #expect(percent.settings.acting == .masterUser(separator: "%") && !percent.settings.provenanceHeader)
    }

    /// The admin appends into a user's INBOX over IMAPS with SASL authzid: the stored bytes are exactly the spool's
    /// (long line, 8-bit, a lone "." line, a bare LF), INTERNALDATE is the arrival date, flags are set, and the
    /// reference is the APPENDUID.
    @Test func appendsExactBytesWithDateAndFlagsOverImplicitTLS() throws {
        let lab = try DovecotLab.start(users: ["alice": "alice-pw"])
        defer { lab.stop() }
        let dir = TempFolder("imap")
        defer { dir.cleanup() }
        let long = String(repeating: "x", count: 9000)
        let bytes = sampleMessage("Grüße", body: "line one\r\n.\r\n..two dots\r\n\(long)\r\nbare\nLF\r\nÄÖÜ\r\n")
        let delivery = try adminDelivery(lab, for: "alice", flags: ["\\Seen", "$Migrated"])
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t1", spool: try makeSpool(dir, bytes),
                arrival: Self.arrival, flags: ["\\Flagged"]))
        #expect(result.reference.hasPrefix("INBOX;UIDVALIDITY="))
        #expect(result.reference.hasSuffix(";UID=1"))
        #expect(result.complete)
        #expect(delivery.loginMethod == "AUTHENTICATE PLAIN")

        let probe = try lab.probe("alice")
        defer { probe.logout() }
        let stored = try probe.messages(in: "INBOX")
        try #require(stored.count == 1)
        #expect(stored[0].internalDate == "14-Nov-2023 22:13:20 +0000")
        #expect(Set(stored[0].flags).subtracting(["\\Recent"]) == ["\\Seen", "$Migrated", "\\Flagged"])
        // Over IMAP: the same bytes, the bare LF shown as CRLF as IMAP requires (RFC 9051 §2.3.1).
        expectSameBytes(stored[0].body, crlfNormalized(bytes))
        // On disk: Dovecot stores lines with LF (mail_save_crlf = no); everything else is untouched.
        let files = try lab.storedFiles("alice")
        try #require(files.count == 1)
        expectSameBytes(files[0].bytes, lfNormalized(bytes))
    }

    /// STARTTLS on 143, Dovecot's master-user LOGIN form, a nested folder that does not exist yet (created with the
    /// server's delimiter and subscribed), and one connection for many messages.
    @Test func starttlsMasterUserFormCreatesFolderAndReusesOneConnection() throws {
        let lab = try DovecotLab.start(users: ["bob": "bob-pw"])
        defer { lab.stop() }
        let dir = TempFolder("imap")
        defer { dir.cleanup() }
        let delivery = try adminDelivery(
            lab, for: "bob", tls: .starttls, folder: "Legacy/Wingtip Ärchiv",
            acting: .masterUser(separator: "*"))
        var transcript: [String] = []
        delivery.trace = { transcript.append($0) }
        defer { delivery.close() }
        var sent: [[UInt8]] = []
        for index in 0..<5 {
            let bytes = sampleMessage("message \(index)")
            sent.append(bytes)
            let result = try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t\(index)", spool: try makeSpool(dir, bytes),
                    arrival: Self.arrival.addingTimeInterval(Double(index))))
            #expect(result.reference.hasSuffix(";UID=\(index + 1)"))
        }
        #expect(delivery.connectionsOpened == 1)
        #expect(delivery.loginMethod == "LOGIN")
        #expect(transcript.contains { $0.contains("LOGIN \"bob*admin\" <redacted>") })
        #expect(transcript.contains { $0.contains("CREATE") })
        #expect(!transcript.joined().contains(DovecotLab.masterPassword))

        let probe = try lab.probe("bob")
        defer { probe.logout() }
        // Dovecot's Maildir++ layout separates levels with "."; the name is modified UTF-7.
        let folder = "Legacy.Wingtip &AMQ-rchiv"
        #expect(
            try probe.folders().contains("Wingtip &AMQ-rchiv") || probe.run("LIST \"\" \"*\"").joined().contains(folder)
        )
        let stored = try probe.messages(in: folder)
        #expect(stored.count == 5)
        for (message, want) in zip(stored, sent) { expectSameBytes(message.body, want) }
        #expect(stored.map(\.internalDate) == (0..<5).map { "14-Nov-2023 22:13:2\($0) +0000" })
        #expect(try probe.run("LSUB \"\" \"*\"").joined().contains("Wingtip"))
    }

    /// After a crash between APPEND and recording its answer, the folder is searched: by Message-ID and size, or by
    /// the provenance header when enabled. A message that never arrived is not found.
    @Test(arguments: [false, true])
    func reconcileFindsLandedAttemptsOnly(provenance: Bool) throws {
        let lab = try DovecotLab.start(users: ["carol": "carol-pw"])
        defer { lab.stop() }
        let dir = TempFolder("imap")
        defer { dir.cleanup() }
        let landed = sampleMessage("landed", id: "landed-1")
        let other = sampleMessage("other size", id: "landed-1", body: "a different body of another size\r\n")
        let delivery = try adminDelivery(lab, for: "carol", folder: "Archive", provenance: provenance)
        defer { delivery.close() }
        let first = try delivery.deliverMessage(
            DeliveryRequest(
                token: "tok-landed", spool: try makeSpool(dir, landed),
                arrival: Self.arrival))
        // A second run starts with a fresh delivery, as after a crash.
        let later = try adminDelivery(lab, for: "carol", folder: "Archive", provenance: provenance)
        defer { later.close() }
        let found = try later.reconcile([
            InDoubtAttempt(
                token: "tok-landed", messageID: "<landed-1@wingtip.example>",
                size: landed.count + (provenance ? "X-MailFerry-Delivery: tok-landed\r\n".utf8.count : 0)),
            InDoubtAttempt(token: "tok-missing", messageID: "<missing@wingtip.example>", size: 100),
            InDoubtAttempt(token: "tok-other", messageID: "<landed-1@wingtip.example>", size: other.count),
        ])
        #expect(found == ["tok-landed": first.reference])
        if provenance {
            let stored = try lab.probe("carol").messages(in: "Archive")
            expectSameBytes(stored.first?.body ?? [], Array("X-MailFerry-Delivery: tok-landed\r\n".utf8) + landed)
        }
    }

    /// Reconciling into a folder that was never created finds nothing and creates nothing it should not.
    @Test func reconcileWithoutAnyDeliveryFindsNothing() throws {
        let lab = try DovecotLab.start(users: ["dan": "dan-pw"])
        defer { lab.stop() }
        let delivery = try adminDelivery(lab, for: "dan")
        defer { delivery.close() }
        #expect(try delivery.reconcile([InDoubtAttempt(token: "x", messageID: "<x@y>", size: 10)]).isEmpty)
        #expect(delivery.inDoubtPolicy == .search)
    }

    /// A wrong admin password is an auth failure, and the password never appears in the trace.
    @Test func wrongPasswordIsAuth() throws {
        let lab = try DovecotLab.start(users: ["eve": "eve-pw"])
        defer { lab.stop() }
        let dir = TempFolder("imap")
        defer { dir.cleanup() }
        let delivery = try IMAPDelivery.make(
            host: "127.0.0.1", port: lab.ports.imaps, tls: .implicit,
            tlsSettings: lab.tlsSettings, user: "admin", password: "wrong-secret",
            authorize: "eve")
        var transcript: [String] = []
        delivery.trace = { transcript.append($0) }
        let error = #expect(throws: MailError.self) {
            try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t", spool: try makeSpool(dir, sampleMessage("x")),
                    arrival: Self.arrival))
        }
        #expect(error?.kind == .auth)
        #expect(!transcript.joined().contains("wrong-secret"))
    }

    /// 200 messages over IMAPS into one mailbox, one connection: prints the rate (quoted in the issue note).
    @Test func appendThroughput() throws {
        let lab = try DovecotLab.start(users: ["fay": "fay-pw"])
        defer { lab.stop() }
        let dir = TempFolder("imap")
        defer { dir.cleanup() }
        let corpus = Corpus.mailbox(user: "fay", domain: "wingtip.example", count: 200, seed: 3, bigAttachment: false)
        let spools = try corpus.map { try makeSpool(dir, $0) }
        let delivery = try adminDelivery(lab, for: "fay")
        defer { delivery.close() }
        let started = Date()
        for (index, spool) in spools.enumerated() {
            _ = try delivery.deliverMessage(DeliveryRequest(token: "t\(index)", spool: spool, arrival: Self.arrival))
        }
        let seconds = Date().timeIntervalSince(started)
        let bytes = corpus.reduce(0) { $0 + $1.count }
        print(
            "IMAP APPEND over TLS: \(corpus.count) messages, \(bytes / 1024) KiB in "
                + String(format: "%.2f s = %.0f msgs/s", seconds, Double(corpus.count) / seconds))
        #expect(delivery.connectionsOpened == 1)
        let stored = try lab.probe("fay").messages(in: "INBOX")
        #expect(stored.count == corpus.count)
        for (message, want) in zip(stored, corpus) {
            expectSameBytes(message.body, crlfNormalized(want), "UID \(message.uid)")
        }
    }
}
