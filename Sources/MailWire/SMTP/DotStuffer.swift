import Glibc
import MailCore
import MailSystem

/// Encodes a message for SMTP/LMTP DATA as it streams out (RFC 5321 §4.5.2, §2.3.8): every bare LF and every bare CR
/// becomes CRLF, a "." at the start of a line is doubled, and `finish()` ends the last line and adds the terminating
/// ".". CRLF pairs pass as they are.
///
/// Why bare CR too: §2.3.8 allows CR and LF on the wire only as CRLF, and a relay that takes a bare CR (or LF) as a
/// line end would read a legacy message holding "\r.\r\n" or "\n.\n" as the end of DATA and the bytes after it as
/// new commands: a second message smuggled in (SMTP smuggling). Normalised first, every line the server sees is one
/// this encoder saw, so its dot is doubled. Maildir and IMAP targets do not use this: they keep the bytes.
///
/// Runs without special bytes pass through as slices of the input; memory stays constant. A CR that ends a chunk is
/// held until the next chunk (or `finish`) says whether an LF follows. Fed any split of the input (byte by byte or
/// all at once) it emits the same bytes.
struct DotStuffer {
    private var atLineStart = true
    /// The last byte seen was a CR whose LF, if any, is in the next chunk. The CR itself is already out.
    private var pendingCR = false

    private static let cr: UInt8 = 13
    private static let lf: UInt8 = 10
    private static let dot: UInt8 = 46
    private static let crBytes: [UInt8] = [13]
    private static let lfBytes: [UInt8] = [10]
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
        /// The index of the next `byte` at or after `start`, or `count` when there is none.
        func next(_ byte: UInt8, from start: Int) -> Int {
            guard let hit = memchr(bytes + start, Int32(byte), count - start) else { return count }
            return bytes.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }

        if pendingCR {
            pendingCR = false
            if bytes[0] == Self.lf {
                i = 1  // the LF of a CRLF split between chunks: passes as it is
            } else {
                try Self.lfBytes.withUnsafeBytes { try emit($0) }  // the held CR was bare
            }
            atLineStart = true
        }
        // Where the next CR and LF are; searched again only once passed, so a chunk is scanned once.
        var nextCR = -1
        var nextLF = -1
        while i < count {
            if atLineStart {
                atLineStart = false
                if bytes[i] == Self.dot {
                    // Doubled: emit one extra "." before the run that starts with this one.
                    try flush(i)
                    try Self.dotBytes.withUnsafeBytes { try emit($0) }
                }
            }
            if nextCR < i { nextCR = next(Self.cr, from: i) }
            if nextLF < i { nextLF = next(Self.lf, from: i) }
            let j = min(nextCR, nextLF)
            if j == count { break }
            if bytes[j] == Self.lf {
                // An LF not taken with a CR before it: bare.
                try flush(j)
                try Self.crBytes.withUnsafeBytes { try emit($0) }
                i = j + 1
            } else if j + 1 == count {
                // A CR at the end of the chunk: the next chunk or `finish` says whether it was bare.
                pendingCR = true
                break
            } else if bytes[j + 1] == Self.lf {
                i = j + 2
            } else {
                try flush(j + 1)
                try Self.lfBytes.withUnsafeBytes { try emit($0) }
                i = j + 1
            }
            atLineStart = true
        }
        try flush(count)
    }

    /// The bytes that end the body: the LF of a final bare CR, or CRLF when the last line is unterminated; then
    /// ".\r\n".
    mutating func finish() -> [UInt8] {
        var tail: [UInt8] = []
        if pendingCR {
            tail = [Self.lf]
        } else if !atLineStart {
            tail = [Self.cr, Self.lf]
        }
        atLineStart = true
        pendingCR = false
        return tail + [Self.dot, Self.cr, Self.lf]
    }
}

/// What DATA needs to know about a message before it is sent, from one pass over the spool.
struct MessageShape: Equatable {
    /// Size of the body `DotStuffer` sends, without its dot-stuffing and final "." line: bare LFs and bare CRs
    /// become CRLF and a missing final line end is added (RFC 1870 SIZE counts that).
    var wireSize: Int
    /// Any octet above 127 anywhere (BODY=8BITMIME, RFC 6152).
    var has8bit: Bool
    /// Any octet above 127 in the header section (raw UTF-8 headers need SMTPUTF8, RFC 6532).
    var has8bitHeader: Bool

    static func of(_ spool: SpoolFile) throws -> MessageShape {
        var added = 0
        var previous: UInt8 = 10
        var has8bit = false
        var has8bitHeader = false
        var inHeader = true
        var lineLength = 0
        var total = 0
        try spool.readChunks { chunk in
            for byte in chunk {
                // Line ends as DotStuffer sees them: CRLF, a bare LF or a bare CR, each one CRLF on the wire.
                var lineEnd = false
                if byte == 13 {
                    if previous == 13 { added += 1 }
                    lineEnd = true
                } else if byte == 10 {
                    if previous != 13 {
                        added += 1
                        lineEnd = true
                    }
                } else {
                    if previous == 13 { added += 1 }
                    lineLength += 1
                    if byte > 127 {
                        has8bit = true
                        if inHeader { has8bitHeader = true }
                    }
                }
                if lineEnd {
                    // An empty line ends the header section.
                    if inHeader && lineLength == 0 { inHeader = false }
                    lineLength = 0
                }
                previous = byte
            }
            total += chunk.count
        }
        if total > 0 && previous == 13 {
            added += 1
        } else if total > 0 && previous != 10 {
            added += 2
        }
        return MessageShape(wireSize: total + added, has8bit: has8bit, has8bitHeader: has8bitHeader)
    }
}
