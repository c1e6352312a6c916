import Glibc
import MailCore
import MailSystem

/// Decodes a dot-stuffed multi-line body (RFC 1939 §3, RFC 5321 §4.5.2) as it streams in, without ever holding a
/// whole line: lines of any length pass through unchanged, a leading "." is removed, and "." alone on a line ends the
/// body. Bare LF is accepted as a line end, so an odd server cannot make us miss the terminator.
///
/// Fed any split of the input (byte by byte or all at once) it emits the same bytes.
struct DotUnstuffer {
    private enum State {
        case lineStart
        case inLine
        /// Saw "." at the start of a line.
        case dot
        /// Saw ".\r" at the start of a line.
        case dotCR
    }

    private var state = State.lineStart
    private(set) var finished = false

    private static let cr: UInt8 = 13
    private static let lf: UInt8 = 10
    private static let dot: UInt8 = 46

    /// Consumes `input`, passing decoded runs to `emit`. Returns the number of bytes consumed: all of them while the
    /// body goes on, or the count up to and including the terminator line once it is seen (the rest belongs to the
    /// next reply).
    mutating func feed(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
        precondition(!finished, "DotUnstuffer fed after the terminator")
        guard let base = input.baseAddress, input.count > 0 else { return 0 }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = input.count
        var i = 0
        var runStart = 0

        func flush(_ end: Int) throws {
            if end > runStart { try emit(UnsafeRawBufferPointer(start: base + runStart, count: end - runStart)) }
        }

        while i < count {
            switch state {
            case .lineStart:
                if bytes[i] == Self.dot {
                    try flush(i)
                    i += 1
                    runStart = i
                    state = .dot
                } else {
                    state = .inLine
                }
            case .inLine:
                if let hit = memchr(bytes + i, Int32(Self.lf), count - i) {
                    i = bytes.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1
                    state = .lineStart
                } else {
                    i = count
                }
            case .dot:
                switch bytes[i] {
                case Self.cr:
                    i += 1
                    runStart = i
                    state = .dotCR
                case Self.lf:
                    finished = true
                    return i + 1
                default:
                    // The dot was stuffing: it is dropped and the line goes on (runStart already skips it).
                    state = .inLine
                }
            case .dotCR:
                if bytes[i] == Self.lf {
                    finished = true
                    return i + 1
                }
                // ".\r" followed by more text: the dot was stuffing, the CR is content.
                var cr = Self.cr
                try withUnsafeBytes(of: &cr) { try emit($0) }
                runStart = i
                state = .inLine
            }
        }
        try flush(count)
        return count
    }
}
