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

/// The same migration, three mailboxes of 200 corpus messages, through every kind of target: exactly once, with the
/// bytes rules of `EndToEnd.expectExactlyOnce` (Maildir and IMAP byte for byte; LMTP and SMTP below the trace
/// fields the receiving servers add, with the recovered envelope sender and the mailbox as recipient).
@Suite(.serialized) struct TargetKindsEndToEndTests {
    static let users = ["alice", "bob", "carol"]

    @Test(arguments: [EndToEnd.Kind.maildir, .imap, .lmtp, .smtp])
    func threeMailboxesTwoHundredEachThroughEveryTargetKind(kind: EndToEnd.Kind) throws {
        let e2e = try EndToEnd(
            "e2e-3x200-\(kind.rawValue)", counts: ["alice": 200, "bob": 200, "carol": 200],
            kind: kind)
        let started = Date()
        let first = try e2e.run()
        let ran = Date().timeIntervalSince(started)
        e2e.settle()
        let stored = Date().timeIntervalSince(started)
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        let report = try e2e.lastReport()
        #expect(report.delivered == 600)
        print(
            "3×200 into \(kind.rawValue): " + String(format: "run %.2f s (%.0f msgs/s)", ran, 600 / ran)
                + (kind == .smtp
                    ? String(
                        format: ", all stored by Dovecot after %.2f s (%.0f msgs/s)", stored,
                        600 / stored) : ""))
        for user in Self.users { try e2e.expectExactlyOnce(user) }
        if kind == .imap {
            for user in Self.users { try expectFetchedBackOverIMAP(e2e, user) }
        }

        let second = try e2e.run()
        #expect(second.code == 0 && second.out.contains("0 messages delivered"), "\(second.out)")
        e2e.settle()
        #expect(e2e.deliveredCount() == 600)
    }

    /// FETCH BODY.PEEK[] gives back the RETR bytes exactly, and INTERNALDATE is the arrival recovered from the
    /// trace fields (the store's messages.envelope), to the second. Not its zone: APPEND sends the time in UTC,
    /// and Dovecot's Maildir keeps INTERNALDATE as the file's mtime, without a zone, so FETCH shows the server's.
    func expectFetchedBackOverIMAP(_ e2e: EndToEnd, _ user: String) throws {
        let server = try e2e.serverMessages(user)
        let envelopes = try e2e.envelopes(user)
        var uidlsByBytes: [[UInt8]: [String]] = [:]
        for (uidl, bytes) in server { uidlsByBytes[bytes, default: []].append(uidl) }
        let probe = try e2e.lab.probe("\(user)-new")
        defer { probe.logout() }
        let fetched = try probe.messages(in: "INBOX")
        #expect(fetched.count == server.count)
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.dateFormat = "d-MMM-yyyy HH:mm:ss Z"
        var unmatched = 0
        var wrongDates: [String] = []
        for message in fetched {
            guard let uidl = uidlsByBytes[message.body]?.popLast() else {
                unmatched += 1
                continue
            }
            let text = message.internalDate.trimmingCharacters(in: .whitespaces)
            guard let envelope = envelopes[uidl], let date = parser.date(from: text) else {
                wrongDates.append("\(uidl): no envelope or unreadable INTERNALDATE \(text)")
                continue
            }
            if Int(date.timeIntervalSince1970) != Int(envelope.arrival.timeIntervalSince1970.rounded(.down)) {
                wrongDates.append("\(uidl): INTERNALDATE \(text), arrival \(envelope.arrival)")
            }
        }
        #expect(unmatched == 0, "\(user): \(unmatched) fetched messages differ from RETR")
        #expect(wrongDates.isEmpty, "\(user): \(wrongDates.count) INTERNALDATEs: \(wrongDates.prefix(3))")
    }
}
