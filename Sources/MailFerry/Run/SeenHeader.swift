import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// What a retrieval saw of a message's header, for people: From, Subject and Date, kept with a message that is not
/// delivered (a retrieval that broke, a delivery refused) so that a report can say what it was should it vanish from
/// the server before a later run copies it (design.md, "Mail that vanished").
struct SeenHeader {
    var from: String?
    var subject: String?
    var date: String?

    init(_ headers: HeaderBlock) {
        from = headers.first("From").flatMap { Self.shown($0.displayValue) }
        subject = headers.first("Subject").flatMap { Self.shown($0.displayValue) }
        date = headers.first("Date").flatMap { Self.shown($0.displayValue) }
    }

    /// What the first bytes of a retrieval that broke hold of the header (its last field may be cut short).
    init(partial spool: SpoolFile) throws {
        self.init(HeaderBlock(parsing: try spool.head(Self.partialBytes)))
    }

    /// Keeps it with the message's row.
    func keep(_ id: Int64, in store: Store) throws {
        try store.noteSeenHeader(id: id, from: from, subject: subject, date: date)
    }

    /// Bytes of a partial retrieval read for its header.
    static let partialBytes = 64 * 1024

    /// A value as a report shows it: decoded, at most 200 characters; nil when blank.
    static func shown(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        return trimmed.count > 200 ? String(trimmed.prefix(199)) + "…" : trimmed
    }
}
