import Glibc

/// Encodes a message for SMTP/LMTP DATA as it streams out (RFC 5321 §4.5.2, §2.3.8): every bare LF becomes CRLF
/// (modern servers reject bare LF, Postfix since 3.9), a "." at the start of a line is doubled, and `finish()` ends
/// the last line and adds the terminating ".". A bare CR is left as it is: it is data, not a line end. Runs without
/// special bytes pass through as slices of the input; memory stays constant.
///
/// Fed any split of the input (byte by byte or all at once) it emits the same bytes.
struct DotStuffer {
    private var atLineStart = true
    private var lastWasCR = false

    private static let cr: UInt8 = 13
    private static let lf: UInt8 = 10
    private static let dot: UInt8 = 46
    private static let crBytes: [UInt8] = [13]
    private static let dotBytes: [UInt8] = [46]

    mutating func encode(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard let base = input.baseAddress, input.count > 0 else { return }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = input.count
        var runStart = 0
        var i = 0

        func flush(_ end: Int) throws {
            if end > runStart { try emit(UnsafeRawBufferPointer(start: base + runStart, count: end - runStart)) }
            runStart = end
        }

        while i < count {
            if atLineStart {
                atLineStart = false
                if bytes[i] == Self.dot {
                    // Doubled: emit one extra "." before the run that starts with this one.
                    try flush(i)
                    try Self.dotBytes.withUnsafeBytes { try emit($0) }
                }
            }
            guard let hit = memchr(bytes + i, Int32(Self.lf), count - i) else { break }
            let j = bytes.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            let precededByCR = j > 0 ? bytes[j - 1] == Self.cr : lastWasCR
            if !precededByCR {
                try flush(j)
                try Self.crBytes.withUnsafeBytes { try emit($0) }
            }
            i = j + 1
            atLineStart = true
        }
        try flush(count)
        lastWasCR = bytes[count - 1] == Self.cr
    }

    /// The bytes that end the body: CRLF when the last line is unterminated, then ".\r\n".
    mutating func finish() -> [UInt8] {
        var tail: [UInt8] = []
        if !atLineStart { tail += lastWasCR ? [Self.lf] : [Self.cr, Self.lf] }
        atLineStart = true
        lastWasCR = false
        return tail + [Self.dot, Self.cr, Self.lf]
    }
}

/// What DATA needs to know about a message before it is sent, from one pass over the spool.
struct MessageShape: Equatable {
    /// Size after bare LFs become CRLF and a missing final line end is added (RFC 1870 SIZE counts that).
    var wireSize: Int
    /// Any octet above 127 anywhere (BODY=8BITMIME, RFC 6152).
    var has8bit: Bool
    /// Any octet above 127 in the header section (raw UTF-8 headers need SMTPUTF8, RFC 6532).
    var has8bitHeader: Bool

    static func of(_ spool: SpoolFile) throws -> MessageShape {
        var bareLF = 0
        var previous: UInt8 = 10
        var has8bit = false
        var has8bitHeader = false
        var inHeader = true
        var lineLength = 0
        var total = 0
        try spool.readChunks { chunk in
            for byte in chunk {
                if byte == 10 {
                    if previous != 13 { bareLF += 1 }
                    // An empty line (only CR or nothing before LF) ends the header section.
                    if inHeader && (lineLength == 0 || (lineLength == 1 && previous == 13)) { inHeader = false }
                    lineLength = 0
                } else {
                    lineLength += 1
                    if byte > 127 {
                        has8bit = true
                        if inHeader { has8bitHeader = true }
                    }
                }
                previous = byte
            }
            total += chunk.count
        }
        let unterminated = total > 0 && previous != 10
        return MessageShape(wireSize: total + bareLF + (unterminated ? (previous == 13 ? 1 : 2) : 0),
                            has8bit: has8bit, has8bitHeader: has8bitHeader)
    }
}
