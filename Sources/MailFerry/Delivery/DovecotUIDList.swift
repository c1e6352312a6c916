import Foundation

/// Dovecot's `dovecot-uidlist` of a Maildir, format 3 (Dovecot 1.1 and later; src/lib-storage/index/maildir/
/// maildir-uidlist.c): a header line `3 V<uidvalidity> N<next uid> G<mailbox guid> [more fields]`, then one line
/// per message, `<uid> [<key><value> ...] :<file name up to its ":2," flags>`, UIDs strictly ascending.
///
/// mailferry reads it, adds or completes the records of the files it delivered, and writes it back whole: the POP3
/// UIDL (`P`) and POP3 order (`O`) Dovecot's POP3 server answers with (maildir-mail.c, MAIL_FETCH_UIDL_BACKEND and
/// MAIL_FETCH_POP3_ORDER). Every field it does not know, of the header or of a record, is kept as it was. Pure
/// value logic; the lock and the files are `DovecotUIDListFile`'s.
struct DovecotUIDList: Equatable {
    struct Record: Equatable {
        var uid: UInt32
        /// The record's fields, each `<key><value>` (`P…`, `O…`, `G…`, `W…`, …), in file order.
        var fields: [String]
        /// The file's base name: its name up to the ":2," flags.
        var name: String

        func value(_ key: Character) -> String? {
            fields.first { $0.first == key }.map { String($0.dropFirst()) }
        }

        mutating func set(_ key: Character, _ value: String) {
            let field = "\(key)\(value)"
            if let index = fields.firstIndex(where: { $0.first == key }) {
                fields[index] = field
            } else {
                fields.append(field)
            }
        }
    }

    var uidValidity: UInt32
    var nextUID: UInt32
    /// The mailbox GUID (32 hex digits), as Dovecot wrote it.
    var guid: String
    /// Header fields other than V, N and G, kept as they were.
    var otherHeader: [String] = []
    var records: [Record] = []

    /// Why a file cannot be read as a format 3 uidlist.
    struct Malformed: Error, Equatable {
        var reason: String
    }

    /// Reads a uidlist; an older format or anything Dovecot itself would call broken is refused (Dovecot rewrites
    /// an older format the next time it opens the mailbox).
    static func parse(_ bytes: [UInt8]) throws(Malformed) -> DovecotUIDList {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix("3 ") else {
            throw Malformed(reason: "its first line is not a format 3 header (\(opening(lines.first)))")
        }
        var list = DovecotUIDList(uidValidity: 0, nextUID: 0, guid: "")
        for field in first.dropFirst(2).split(separator: " ") {
            switch field.first {
            case "V": list.uidValidity = UInt32(field.dropFirst()) ?? 0
            case "N": list.nextUID = UInt32(field.dropFirst()) ?? 0
            case "G": list.guid = String(field.dropFirst())
            default: list.otherHeader.append(String(field))
            }
        }
        guard list.uidValidity != 0, list.nextUID != 0 else {
            throw Malformed(reason: "its header has no UIDVALIDITY or next UID (\(opening(first)))")
        }
        for (offset, line) in lines.dropFirst().enumerated() {
            let record = try parseRecord(line, number: offset + 2)
            guard record.uid > (list.records.last?.uid ?? 0) else {
                throw Malformed(reason: "line \(offset + 2): UIDs not ascending")
            }
            list.records.append(record)
        }
        // Appended records (Dovecot's and mailferry's) leave the header's next UID behind, as Dovecot allows.
        list.nextUID = max(list.nextUID, (list.records.last?.uid ?? 0) + 1)
        return list
    }

    private static func parseRecord(_ line: String, number: Int) throws(Malformed) -> Record {
        guard let colon = line.range(of: " :") else {
            throw Malformed(reason: "line \(number) has no file name (\(opening(line)))")
        }
        let head = line[..<colon.lowerBound].split(separator: " ")
        let name = String(line[colon.upperBound...])
        guard let uidText = head.first, let uid = UInt32(uidText), uid > 0, !name.isEmpty, !name.contains("/") else {
            throw Malformed(reason: "line \(number) is not a record (\(opening(line)))")
        }
        return Record(uid: uid, fields: head.dropFirst().map(String.init), name: name)
    }

    private static func opening(_ text: String?) -> String {
        String((text ?? "").prefix(60))
    }

    /// A new uidlist, for a Maildir Dovecot has not opened yet.
    static func fresh(uidValidity: UInt32, nextUID: UInt32 = 1) -> DovecotUIDList {
        let guid = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return DovecotUIDList(uidValidity: max(1, uidValidity), nextUID: max(1, nextUID), guid: guid)
    }

    func render() -> [UInt8] {
        var text = "3 V\(uidValidity) N\(nextUID)" + (guid.isEmpty ? "" : " G\(guid)")
        for field in otherHeader { text += " " + field }
        return Array((text + "\n").utf8) + Self.render(records[...])
    }

    /// The lines of `records`, as `render` writes them.
    static func render(_ records: ArraySlice<Record>) -> [UInt8] {
        var text = ""
        for record in records {
            text += "\(record.uid)"
            for field in record.fields { text += " " + field }
            text += " :" + record.name + "\n"
        }
        return Array(text.utf8)
    }

    /// The record of a file, by its base name (a name in cur/ may carry ":2,<flags>").
    func record(named name: String) -> Record? {
        let base = Self.baseName(name)
        return records.first { $0.name == base }
    }

    static func baseName(_ name: String) -> String {
        String(name.prefix { $0 != ":" })
    }

    /// The highest POP3 order any record has (0 for none).
    var highestOrder: UInt64 {
        records.compactMap { $0.value("O").flatMap { UInt64($0) } }.max() ?? 0
    }

    /// Gives each file its POP3 UIDL, in the order given: a file without a record gets the next UID and the next
    /// POP3 order; a file Dovecot numbered already keeps its UID and gets the UIDL, and an order if it had none.
    /// A record with this UIDL and an order already is left as it is (a run after a crash writes nothing twice).
    /// Returns whether anything changed.
    @discardableResult
    mutating func keep(_ marks: [(name: String, uidl: String)]) -> Bool {
        var order = highestOrder
        var changed = false
        var index: [String: Int] = [:]
        for (position, record) in records.enumerated() { index[record.name] = position }
        // A UIDL that is not RFC 1939's would break the line (a space ends a field): Dovecot numbers that file.
        for mark in marks where Self.recordable(mark.uidl) {
            let base = Self.baseName(mark.name)
            if let position = index[base] {
                var record = records[position]
                if record.value("P") != mark.uidl { record.set("P", mark.uidl) }
                if record.value("O") == nil {
                    order += 1
                    record.set("O", String(order))
                }
                if record != records[position] {
                    records[position] = record
                    changed = true
                }
                continue
            }
            let uid = max(nextUID, (records.last?.uid ?? 0) + 1)
            order += 1
            records.append(Record(uid: uid, fields: ["P" + mark.uidl, "O\(order)"], name: base))
            index[base] = records.count - 1
            nextUID = uid + 1
            changed = true
        }
        return changed
    }

    /// Whether `uidl` can be a `P` field: RFC 1939 §7's 1 to 70 characters 0x21–0x7E (a space would end the field).
    static func recordable(_ uidl: String) -> Bool {
        let bytes = Array(uidl.utf8)
        return (1...70).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
