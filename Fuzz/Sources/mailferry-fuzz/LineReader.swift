@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// The bounded line reader (Net/Connection.swift), with dot-stuffed bodies read from the same buffer in between, fed
/// in odd chunks through a small buffer. Every line must equal the obvious split at LF (a CR before it dropped), a
/// line longer than the limit must be refused as a protocol error, and bodies must equal the reference unstuffing.
@Sendable func fuzzLineReader(_ input: inout FuzzInput) {
    let bufferSize = input.int(in: 16...700)
    let maxLine = input.int(in: 1...(bufferSize - 1))
    let sizes = (0..<4).map { _ in input.byte() }
    let plan = input.byte()  // bit n: the n-th read (mod 8) is a dot body rather than a line
    let payload = input.rest()
    let connection = memoryConnection(payload, sizes: sizes, bufferSize: bufferSize, maxLineLength: maxLine)
    var offset = 0
    for step in 0..<64 {
        if plan >> (step % 8) & 1 == 1 {
            let expected = referenceUnstuff(Array(payload[offset...]))
            var body: [UInt8] = []
            do {
                try connection.readDotBody { body += $0 }
            } catch {
                require(expected == nil, "body with a terminator at \(offset) failed: \(error)")
                return
            }
            guard let expected else { return require(false, "body without a terminator ended at \(offset)") }
            require(body == expected.body, "body at \(offset) differs from the reference")
            offset += expected.consumed
        } else {
            let lf = payload[offset...].firstIndex(of: 10)
            let line: [UInt8]
            do {
                line = try connection.readLine()
            } catch let error as MailError {
                if let lf {
                    require(lf - offset > maxLine, "a line of \(lf - offset) bytes (limit \(maxLine)) failed: \(error)")
                    require(error.kind == .protocol, "an over-long line must be a protocol error: \(error)")
                }
                return
            } catch {
                return require(false, "unexpected error type: \(error)")
            }
            guard let lf else { return require(false, "a line without LF was returned: \(line)") }
            require(lf - offset <= maxLine, "a line of \(lf - offset) bytes passed the limit \(maxLine)")
            var content = payload[offset..<lf]
            if content.last == 13 { content = content.dropLast() }
            require(line.elementsEqual(content), "line at \(offset) differs: \(line) vs \(Array(content))")
            offset = lf + 1
        }
        require(connection.bufferedCount <= payload.count - offset, "more bytes buffered than remain")
    }
}
