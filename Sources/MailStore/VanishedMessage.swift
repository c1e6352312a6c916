import Foundation
import MailCore
import MailSystem

/// A message the state knew and had not delivered, which a complete UIDL listing of its mailbox no longer showed:
/// the server lost it (or the person deleted it) before it was copied (design.md, "Mail that vanished"). What is
/// known of it is what the report, `status` and the dashboard show.
public struct VanishedMessage: Sendable, Codable, Equatable {
    /// The mailbox (SOURCE/USER).
    public var mailbox: String
    public var uidl: String
    /// Its size by LIST, when the server said.
    public var size: Int?
    /// Where its checkpoint stood: "pending", "in doubt", "deferred", "failed" or "quarantined".
    public var stood: String
    /// Attempts counted against it (retrievals that broke, deliveries refused).
    public var attempts: Int
    public var lastError: String?
    /// Header fields as a retrieval saw them (decoded, for display), when one got that far.
    public var from: String?
    public var subject: String?
    public var date: String?
    /// The envelope sender recovered from its trace headers, when it was retrieved whole.
    public var sender: String?
    public var firstSeenAt: Date
    /// The last complete listing that showed it, and the first that did not.
    public var lastSeenAt: Date
    public var vanishedAt: Date
    /// A catch-all message: the target mailboxes its routing chose that never got it (nil: never routed).
    public var notRoutedTo: [String]?

    public init(
        mailbox: String, uidl: String, size: Int?, stood: String, attempts: Int, firstSeenAt: Date,
        lastSeenAt: Date, vanishedAt: Date
    ) {
        self.mailbox = mailbox
        self.uidl = uidl
        self.size = size
        self.stood = stood
        self.attempts = attempts
        self.firstSeenAt = firstSeenAt
        self.lastSeenAt = lastSeenAt
        self.vanishedAt = vanishedAt
    }

    /// What a report line says of it after its UIDL: size, standing, and whatever is known of its header.
    public var summary: String {
        var parts = [size.map { "\($0) bytes" } ?? "size unknown", stood]
        if attempts > 0 { parts.append("\(attempts) attempt\(attempts == 1 ? "" : "s")") }
        if let from { parts.append("From: \(from)") } else if let sender { parts.append("sender \(sender)") }
        if let subject { parts.append("Subject: \(subject)") }
        if let date { parts.append("Date: \(date)") }
        if let notRoutedTo, !notRoutedTo.isEmpty {
            parts.append("never reached " + notRoutedTo.joined(separator: ", "))
        }
        return parts.joined(separator: "; ")
    }

    /// Rows that are vanished and not delivered (nor a duplicate, nor removed by retention): what needs attention.
    static let undelivered =
        "m.vanished_at IS NOT NULL AND m.parent_id IS NULL AND m.state IN "
        + "('listed', 'delivering', 'deferred', 'failed')"

    /// The vanished rows of `db` that `condition` (SQL over `m`, the messages row, and `b`, its mailbox) selects, at
    /// most `limit`, oldest vanished first, with what is known of each.
    static func read(
        _ db: Database, where condition: String, _ values: [Statement.Value], limit: Int
    ) throws -> [VanishedMessage] {
        let found = try db.prepare(
            """
            SELECT m.id, b.key, m.uidl, m.listed_size, m.state, m.quarantined, m.attempts, m.last_error, m.seen_from,
                   m.seen_subject, m.date_header,
                   CASE WHEN json_valid(m.envelope) THEN json_extract(m.envelope, '$.envelope.sender') END,
                   m.first_seen_at, coalesce(m.last_listed_at, m.first_seen_at), m.vanished_at
            FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
            WHERE \(condition) ORDER BY m.vanished_at, m.id LIMIT \(limit)
            """
        ).rows(values) { row -> (Int64, VanishedMessage) in
            let state = MessageState(rawValue: row.text(4) ?? "") ?? .listed
            var message = VanishedMessage(
                mailbox: row.text(1) ?? "", uidl: row.text(2) ?? "", size: row.isNull(3) ? nil : Int(row.int(3)),
                stood: standing(state, quarantined: row.int(5) != 0), attempts: Int(row.int(6)),
                firstSeenAt: Date(timeIntervalSince1970: row.double(12)),
                lastSeenAt: Date(timeIntervalSince1970: row.double(13)),
                vanishedAt: Date(timeIntervalSince1970: row.double(14)))
            message.lastError = row.text(7)
            message.from = row.text(8)
            message.subject = row.text(9)
            message.date = row.text(10)
            message.sender = row.text(11).flatMap { $0.isEmpty ? nil : $0 }
            return (row.int(0), message)
        }
        let routes = try db.prepare(
            "SELECT address FROM messages WHERE parent_id = ? AND state != 'delivered' ORDER BY address")
        let routed = try db.prepare("SELECT count(*) FROM messages WHERE parent_id = ?")
        return try found.map { id, message in
            guard try routed.rows([.int(id)], { $0.int(0) }).first ?? 0 > 0 else { return message }
            var message = message
            message.notRoutedTo = try routes.rows([.int(id)]) { $0.text(0) ?? "" }
            return message
        }
    }

    /// The words a person reads for a checkpoint state.
    static func standing(_ state: MessageState, quarantined: Bool) -> String {
        switch state {
        case .listed: "pending"
        case .delivering: "in doubt"
        case .deferred: "deferred"
        case .failed: quarantined ? "quarantined" : "failed"
        case .delivered, .duplicate, .removed: state.rawValue
        }
    }
}
