import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The envelope column written by hand: `JSONEncoder` cost more per message than parsing the whole header block
/// (it boxes every value and sorts every object's keys). The output is the same bytes `JSONEncoder` writes with
/// `[.sortedKeys, .withoutEscapingSlashes]` and `.iso8601` dates, tested against it: keys in byte order, nil
/// optionals left out, `"`, `\` and control characters escaped, everything else (slashes, 8-bit text) as is.
extension StoredEnvelope {
    /// The envelope of a message without a routing decision (every mailbox but a catch-all), or nil when a value
    /// needs what only `JSONEncoder` writes the same way (a date before 1970 or with a fraction of a second).
    func handWrittenJSON() -> String? {
        guard routing == nil else { return nil }
        var writer = EnvelopeJSONWriter()
        writer.bytes.append(contentsOf: #"{"envelope":"#.utf8)
        guard writer.envelope(envelope) else { return nil }
        writer.bytes.append(UInt8(ascii: "}"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

private struct EnvelopeJSONWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1024) }

    /// The keys of `RecoveredEnvelope` in byte order (what `.sortedKeys` gives for these ASCII names).
    mutating func envelope(_ value: RecoveredEnvelope) -> Bool {
        var object = ObjectState()
        key("alsoSeen", &object)
        recipients(value.alsoSeen)
        key("arrival", &object)
        guard date(value.arrival) else { return false }
        if let provenance = value.arrivalProvenance {
            key("arrivalProvenance", &object)
            self.provenance(provenance)
        }
        key("arrivalSource", &object)
        string(value.arrivalSource.rawValue)
        if let zone = value.arrivalZoneOffset {
            key("arrivalZoneOffset", &object)
            integer(zone)
        }
        optionalString("boundaryHost", value.boundaryHost, &object)
        key("headerRecipients", &object)
        recipients(value.headerRecipients)
        if let list = value.mailingList {
            key("mailingList", &object)
            var inner = ObjectState()
            optionalString("address", list.address, &inner)
            optionalString("id", list.id, &inner)
            close(inner)
        }
        key("notes", &object)
        bytes.append(UInt8(ascii: "["))
        for (index, note) in value.notes.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(note)
        }
        bytes.append(UInt8(ascii: "]"))
        key("recipientSource", &object)
        string(value.recipientSource.rawValue)
        key("recipients", &object)
        recipients(value.recipients)
        optionalString("sender", value.sender, &object)
        if let provenance = value.senderProvenance {
            key("senderProvenance", &object)
            self.provenance(provenance)
        }
        if let boundary = value.trustBoundary {
            key("trustBoundary", &object)
            integer(boundary)
        }
        close(object)
        return true
    }

    private mutating func recipients(_ list: [RecoveredRecipient]) {
        bytes.append(UInt8(ascii: "["))
        for (index, recipient) in list.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            var object = ObjectState()
            key("address", &object)
            string(recipient.address)
            optionalString("original", recipient.original, &object)
            key("provenance", &object)
            provenance(recipient.provenance)
            close(object)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func provenance(_ value: Provenance) {
        var object = ObjectState()
        key("header", &object)
        string(value.header)
        key("position", &object)
        integer(value.position)
        key("trusted", &object)
        bytes.append(contentsOf: (value.trusted ? "true" : "false").utf8)
        close(object)
    }

    /// Opens the object on its first key, else writes the comma; keys are plain ASCII names, never escaped.
    private struct ObjectState { var first = true }

    private mutating func key(_ name: StaticString, _ object: inout ObjectState) {
        bytes.append(object.first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        object.first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
    }

    /// `}`, or `{}` for an object that got no key.
    private mutating func close(_ object: ObjectState) {
        if object.first { bytes.append(UInt8(ascii: "{")) }
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func integer(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// RFC 8259 §7, escaped as `JSONEncoder` does: `\"`, `\\`, `\b \f \n \r \t`, other controls as `\u00XX`.
    /// A string member, left out when there is no value (as `JSONEncoder` leaves out nil).
    private mutating func optionalString(_ name: StaticString, _ value: String?, _ object: inout ObjectState) {
        guard let value else { return }
        key(name, &object)
        string(value)
    }

    private mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
            case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 15)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `.iso8601` (`2019-03-05T09:00:00Z`) for whole seconds from 1970 on; false otherwise.
    private mutating func date(_ value: Date) -> Bool {
        let seconds = value.timeIntervalSince1970
        guard seconds >= 0, seconds < 253_402_300_800, seconds.rounded(.down) == seconds else { return false }
        let parts = civil(fromSeconds: Int(seconds))
        func digits(_ number: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = number
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        bytes.append(UInt8(ascii: "\""))
        digits(parts.year, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(parts.month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(parts.day, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(parts.hour, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(parts.minute, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(parts.second, 2)
        bytes.append(contentsOf: "Z\"".utf8)
        return true
    }
}
