/// One header field of a message (RFC 5322 §2.2), as found in the raw bytes.
///
/// The parser never changes the message: `range` and `valueRange` point into the bytes it was given, and `value` is
/// a separate, unfolded copy made for reading. What is delivered is always the original bytes.
public struct HeaderField: Sendable, Equatable {
    /// Position among all fields of the header block: 0 is the topmost (the last one an MTA prepended). Lines the
    /// parser skipped (no colon, bad name) are not fields and take no position.
    public let index: Int
    /// The field name as written (printable US-ASCII, RFC 5322 §3.6.8), without whitespace before the colon.
    public let name: String
    /// The raw bytes of the whole field: from the first byte of the name to the end of the line terminator of its
    /// last (continuation) line.
    public let range: Range<Int>
    /// The raw bytes after the colon, folding included, up to (not including) the last line terminator.
    public let valueRange: Range<Int>
    /// The value unfolded (RFC 5322 §2.2.3: each line terminator followed by whitespace is removed, the whitespace
    /// kept), with the whitespace after the colon and at the end trimmed. 8-bit bytes are kept as they are.
    public let value: [UInt8]
    /// The value was longer than `HeaderBlock.Limits.valueBytes` and `value` holds only its start.
    public let valueTruncated: Bool

    /// Case-insensitive name comparison (field names are case-insensitive, RFC 5322 §1.2.2).
    public func hasName(_ other: String) -> Bool { Self.sameName(name, other) }

    /// Whether two field names are the same name (case-insensitive, RFC 5322 §1.2.2).
    static func sameName(_ name: String, _ other: String) -> Bool {
        name.utf8.count == other.utf8.count && name.equalsIgnoringASCIICase(other)
    }

    /// The value as text for machine use (addresses, dates, host names): UTF-8, invalid bytes replaced by U+FFFD.
    public var text: String { String(decoding: value, as: UTF8.self) }

    /// The value for people: RFC 2047 encoded-words decoded, control characters made visible. Never for matching
    /// addresses or for writing back into a message.
    public var displayValue: String { EncodedWords.decode(value) }
}

/// The header section of a message, parsed tolerantly from its first bytes (RFC 5322 §2.1, §2.2).
///
/// Input is a prefix of the message (the message itself may be huge and stays in its spool file). The header ends
/// at the first empty line; a line ends with CRLF, a bare LF, or a bare CR (RFC 5322 §2.3 only allows CRLF, but
/// legacy stores hold all three). A run of CRs followed by LF counts as one line end (the "CRCRLF" a text-mode copy
/// leaves). Lines without a colon or with a malformed name are skipped with a note; a continuation line before any
/// field is skipped too. Without an empty line, everything up to the limit is read as header.
///
/// Every loop is bounded by `Limits`: bytes scanned, number of fields, bytes kept per value, notes kept.
public struct HeaderBlock: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        /// Bytes of the input looked at; the rest is ignored (and `truncated` set if the header had not ended).
        public var bytes: Int
        /// Fields kept; parsing stops after this many.
        public var fields: Int
        /// Bytes kept of one unfolded value (counted before the whitespace after the colon is trimmed).
        public var valueBytes: Int
        /// Notes kept; later ones are counted in a last note.
        public var notes: Int

        public init(bytes: Int = 1 << 20, fields: Int = 5_000, valueBytes: Int = 64 * 1024, notes: Int = 50) {
            self.bytes = bytes
            self.fields = fields
            self.valueBytes = valueBytes
            self.notes = notes
        }

        public static let `default` = Limits()

        /// How many bytes of a message a caller should hand over: one more than `bytes`, so that a header cut by the
        /// limit (`truncated`) is told apart from a message that ends right there. Found by the header fuzz target.
        public var readBytes: Int { bytes == Int.max ? bytes : max(0, bytes) + 1 }
    }

    /// The fields in message order, topmost first.
    public let fields: [HeaderField]
    /// Offset where the header section ends: the first byte of the empty line, or where scanning stopped.
    public let headerEnd: Int
    /// Offset of the first body byte when an empty line ended the header; nil without one.
    public let bodyOffset: Int?
    /// A limit stopped the parse before the header ended: fields beyond it are unknown.
    public let truncated: Bool
    /// What the parser tolerated or skipped, one sentence each ("line 7 (byte 311): no colon; skipped").
    public let notes: [String]

    /// Parses the header of `bytes` (the message or its first bytes). Pure: no I/O, the input is not changed.
    public init(parsing bytes: [UInt8], limits: Limits = .default) {
        var scanner = HeaderScanner(bytes: bytes, limits: limits)
        scanner.run()
        fields = scanner.fields
        headerEnd = scanner.headerEnd
        bodyOffset = scanner.bodyOffset
        truncated = scanner.truncated
        notes = scanner.notes.all
    }

    /// Whether an empty line separates header and body.
    public var hasSeparator: Bool { bodyOffset != nil }

    /// Every field with that name (case-insensitive), topmost first.
    public func all(_ name: String) -> [HeaderField] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// The topmost field with that name (case-insensitive).
    public func first(_ name: String) -> HeaderField? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }
    }
}

/// Notes with a cap, so a message of ten thousand broken lines cannot grow them without bound.
struct BoundedNotes {
    let limit: Int
    private(set) var kept: [String] = []
    private(set) var dropped = 0

    init(limit: Int) { self.limit = limit }

    mutating func add(_ note: String) {
        if kept.count < limit { kept.append(note) } else { dropped += 1 }
    }

    var all: [String] { dropped == 0 ? kept : kept + ["\(dropped) more notes like these"] }
}

/// The line-by-line pass behind `HeaderBlock`. Kept separate so the public type stays a plain value.
private struct HeaderScanner {
    let bytes: [UInt8]
    let limits: Limits
    let end: Int
    var fields: [HeaderField] = []
    var headerEnd = 0
    var bodyOffset: Int?
    var truncated = false
    var notes: BoundedNotes

    /// The field being read: it may continue on the next lines.
    private var open: OpenField?
    private var lineNumber = 0

    typealias Limits = HeaderBlock.Limits

    private struct OpenField {
        var name: String
        var start: Int
        var valueStart: Int
        /// End of the last line's content (before its terminator) and end of its terminator.
        var contentEnd: Int
        var lineEnd: Int
        var value: [UInt8]
        var valueTruncated = false
    }

    init(bytes: [UInt8], limits: Limits) {
        self.bytes = bytes
        self.limits = limits
        end = min(bytes.count, max(0, limits.bytes))
        notes = BoundedNotes(limit: max(1, limits.notes))
    }

    mutating func run() {
        var position = 0
        var sawBareLF = false
        var sawBareCR = false
        var sawCRCRLF = false
        // Each pass consumes at least one byte or stops, so the loop runs at most `end` + 1 times.
        while position < end {
            lineNumber += 1
            let line = nextLine(from: position)
            switch line.terminator {
            case .lf: sawBareLF = true
            case .cr: sawBareCR = true
            case .crcrlf: sawCRCRLF = true
            case .crlf, .none: break
            }
            if line.contentEnd == position {
                // RFC 5322 §2.1: the first empty line separates header and body.
                if line.terminator == .none { break }
                closeField()
                headerEnd = position
                bodyOffset = line.next
                break
            }
            let first = bytes[position]
            if first == 0x20 || first == 0x09 {
                continueField(from: position, line: line)
            } else {
                closeField()
                if fields.count >= limits.fields {
                    notes.add("more than \(limits.fields) header fields; the rest is not read")
                    truncated = true
                    headerEnd = position
                    return
                }
                openField(from: position, line: line)
            }
            position = line.next
        }
        closeField()
        if bodyOffset == nil {
            headerEnd = position
            if bytes.count > end {
                truncated = true
                notes.add("no empty line within the first \(end) bytes; the header is read up to there")
            } else if !fields.isEmpty || position > 0 {
                notes.add("no empty line ends the header; every line is read as header (RFC 5322 §2.1)")
            }
        }
        if sawBareLF { notes.add("lines end with a bare LF, not CRLF") }
        if sawBareCR { notes.add("lines end with a bare CR, not CRLF") }
        if sawCRCRLF { notes.add("lines end with CR CR LF; read as one line end") }
    }

    enum Terminator { case crlf, lf, cr, crcrlf, none }

    struct Line {
        /// End of the line's content, start of its terminator.
        var contentEnd: Int
        /// Start of the next line.
        var next: Int
        var terminator: Terminator
    }

    /// Finds the end of the line starting at `start`: CRLF, LF, CR+ LF, or a bare CR (bounded by `end`).
    func nextLine(from start: Int) -> Line {
        var index = start
        while index < end {
            let byte = bytes[index]
            if byte == 0x0A { return Line(contentEnd: index, next: index + 1, terminator: .lf) }
            if byte == 0x0D {
                var crs = index
                while crs < end && bytes[crs] == 0x0D { crs += 1 }
                if crs < end && bytes[crs] == 0x0A {
                    return Line(contentEnd: index, next: crs + 1, terminator: crs == index + 1 ? .crlf : .crcrlf)
                }
                // A bare CR; a CR right after it starts an (empty) line of its own.
                return Line(contentEnd: index, next: index + 1, terminator: .cr)
            }
            index += 1
        }
        return Line(contentEnd: end, next: end, terminator: .none)
    }

    private mutating func openField(from start: Int, line: Line) {
        if start == 0 && bytes[start..<min(start + 5, line.contentEnd)].elementsEqual("From ".utf8) {
            notes.add("line 1: an mbox \"From \" line, not a header field; skipped")
            return
        }
        var colon = start
        while colon < line.contentEnd && bytes[colon] != 0x3A { colon += 1 }
        guard colon < line.contentEnd else {
            notes.add(
                "line \(lineNumber) (byte \(start)): no colon; skipped: "
                    + sanitizeForDisplay(bytes[start..<line.contentEnd], limit: 60))
            return
        }
        // RFC 5322 §4.5 (obs-optional): whitespace may stand between the name and the colon.
        var nameEnd = colon
        while nameEnd > start && (bytes[nameEnd - 1] == 0x20 || bytes[nameEnd - 1] == 0x09) { nameEnd -= 1 }
        let name = bytes[start..<nameEnd]
        // RFC 5322 §3.6.8: ftext is printable US-ASCII except the colon.
        guard !name.isEmpty, name.allSatisfy({ $0 >= 33 && $0 <= 126 }) else {
            notes.add(
                "line \(lineNumber) (byte \(start)): \"\(sanitizeForDisplay(name, limit: 40))\" is not a field "
                    + "name; skipped")
            return
        }
        var field = OpenField(
            name: String(decoding: name, as: UTF8.self), start: start, valueStart: colon + 1,
            contentEnd: line.contentEnd, lineEnd: line.next, value: [])
        append(bytes[(colon + 1)..<line.contentEnd], to: &field)
        open = field
    }

    private mutating func continueField(from start: Int, line: Line) {
        guard var field = open else {
            notes.add("line \(lineNumber) (byte \(start)): continuation line without a field above it; skipped")
            return
        }
        // RFC 5322 §2.2.3: unfolding removes the line break, not the whitespace after it.
        append(bytes[start..<line.contentEnd], to: &field)
        field.contentEnd = line.contentEnd
        field.lineEnd = line.next
        open = field
    }

    private func append(_ piece: ArraySlice<UInt8>, to field: inout OpenField) {
        let room = limits.valueBytes - field.value.count
        if piece.count <= room {
            field.value.append(contentsOf: piece)
        } else {
            field.value.append(contentsOf: piece.prefix(max(0, room)))
            field.valueTruncated = true
        }
    }

    private mutating func closeField() {
        guard let field = open else { return }
        open = nil
        var value = field.value[...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        if field.valueTruncated {
            notes.add(
                "\(field.name) (field \(fields.count)): value longer than \(limits.valueBytes) bytes; "
                    + "only its start is read")
        }
        fields.append(
            HeaderField(
                index: fields.count, name: field.name, range: field.start..<field.lineEnd,
                valueRange: field.valueStart..<field.contentEnd, value: Array(value),
                valueTruncated: field.valueTruncated))
    }
}
