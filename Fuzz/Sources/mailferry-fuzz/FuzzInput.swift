import Glibc

@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// Reads structure out of a fuzzer's bytes: a few control values first, the rest is the payload. Running out of
/// bytes is not an error: every read has a default, so every input is a valid test case.
struct FuzzInput {
    let bytes: [UInt8]
    private(set) var position = 0

    init(_ data: UnsafeRawPointer, _ count: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// One control byte (0 when the input is exhausted).
    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A value in `range`, from one or two control bytes.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let raw = Int(byte()) << 8 | Int(byte())
        return range.lowerBound + raw % (range.count)
    }

    /// Everything not yet read.
    mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return Array(bytes[min(position, bytes.count)...])
    }

    /// Cuts `payload` into chunks whose sizes come from `sizes` (1...maxChunk bytes each), as a network would.
    static func chunks(_ payload: [UInt8], sizes: [UInt8], maxChunk: Int) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var offset = 0
        var next = 0
        while offset < payload.count {
            let size = sizes.isEmpty ? payload.count : 1 + Int(sizes[next % sizes.count]) % maxChunk
            next += 1
            let end = min(payload.count, offset + size)
            result.append(payload[offset..<end])
            offset = end
        }
        return result
    }
}

/// Stops the fuzzer with a message when an invariant does not hold: libFuzzer records the input as a crash.
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        printError("invariant broken at \(file):\(line): \(message())")
        abort()
    }
}

func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Text meant for a terminal or a report must not carry control characters (escape sequences) from a server.
func requireDisplaySafe(_ text: String, _ what: String, file: StaticString = #fileID, line: UInt = #line) {
    let bad = text.unicodeScalars.first { $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value) }
    let code = String(bad?.value ?? 0, radix: 16)
    require(bad == nil, "\(what) carries control character U+\(code): \(text.debugDescription)", file: file, line: line)
}

/// A byte stream served from memory in the chunks given: what the line reader sees from a server that sends its
/// bytes in odd pieces. Writes are discarded; the end of the chunks is the end of the stream.
final class MemoryStream: ByteStream {
    private var chunks: [ArraySlice<UInt8>]
    private var next = 0

    init(_ chunks: [ArraySlice<UInt8>]) { self.chunks = chunks }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while next < chunks.count {
            let chunk = chunks[next]
            if chunk.isEmpty {
                next += 1
                continue
            }
            let n = min(buffer.count, chunk.count)
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk.withUnsafeBytes { $0 }[0..<n]))
            chunks[next] = chunk.dropFirst(n)
            return n
        }
        return 0
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {}
    func close() {}
}

/// A `Connection` reading `payload` cut into chunks, with a small buffer so that compaction happens.
func memoryConnection(_ payload: [UInt8], sizes: [UInt8], bufferSize: Int, maxLineLength: Int) -> Connection {
    let connection = Connection(
        stream: MemoryStream(FuzzInput.chunks(payload, sizes: sizes, maxChunk: 97)),
        peer: "fuzz", bufferSize: bufferSize)
    connection.maxLineLength = maxLineLength
    return connection
}

/// The obvious line-by-line dot-unstuffing (RFC 1939 §3): a line "." (or ".\r") ends the body, a leading "." of any
/// other line is dropped. Returns the body and the bytes consumed, or nil when the terminator never came.
func referenceUnstuff(_ input: [UInt8]) -> (body: [UInt8], consumed: Int)? {
    var body: [UInt8] = []
    var start = 0
    while let lf = input[start...].firstIndex(of: 10) {
        let line = input[start..<lf]
        if line.elementsEqual([46]) || line.elementsEqual([46, 13]) { return (body, lf + 1) }
        body += line.first == 46 ? line.dropFirst() : line
        body.append(10)
        start = lf + 1
    }
    return nil
}
