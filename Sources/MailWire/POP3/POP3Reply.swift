import MailCore
import MailSystem

/// One POP3 status line: "+OK text" or "-ERR [CODE] text" (RFC 1939 §3, response codes RFC 2449 §8, RFC 3206).
struct POP3Reply: Equatable, Sendable {
    var ok: Bool
    /// The extended response code in brackets ("[IN-USE]", "[SYS/TEMP]", upper-cased), if any.
    var code: POP3ResponseCode?
    /// The rest of the line, sanitized for display.
    var text: String
    /// The raw text after the status word, for SASL continuation data and APOP timestamps.
    var raw: [UInt8]

    /// Parses a status line; anything that is neither "+OK" nor "-ERR" is a protocol error.
    /// "+ " continuation lines (SASL, RFC 5034) parse as ok with `isContinuation`.
    static func parse(_ line: [UInt8]) throws -> POP3Reply {
        let okWord: [UInt8] = Array("+OK".utf8)
        let errWord: [UInt8] = Array("-ERR".utf8)
        let ok: Bool
        var rest: ArraySlice<UInt8>
        if line.starts(with: okWord) {
            ok = true
            rest = line[okWord.count...]
        } else if line.count >= errWord.count && line[0..<errWord.count].map(asciiUpper).elementsEqual(errWord) {
            ok = false
            rest = line[errWord.count...]
        } else {
            throw MailError(.protocol, "unexpected POP3 reply: \(sanitizeForDisplay(line, limit: 120))")
        }
        // "+OKfoo" is not a status word.
        if let first = rest.first, first != 32 {
            throw MailError(.protocol, "unexpected POP3 reply: \(sanitizeForDisplay(line, limit: 120))")
        }
        rest = rest.drop(while: { $0 == 32 })
        let raw = Array(rest)
        var code: POP3ResponseCode?
        if rest.first == 91, let close = rest.firstIndex(of: 93) {  // "[" ... "]"
            let inner = rest[(rest.startIndex + 1)..<close]
            if !inner.isEmpty, inner.count <= 64, inner.allSatisfy({ $0 > 32 && $0 < 127 }) {
                code = POP3ResponseCode(String(decoding: inner.map(asciiUpper), as: UTF8.self))
                rest = rest[(close + 1)...].drop(while: { $0 == 32 })
            }
        }
        return POP3Reply(ok: ok, code: code, text: sanitizeForDisplay(rest), raw: raw)
    }
}

func asciiUpper(_ byte: UInt8) -> UInt8 {
    (97...122).contains(byte) ? byte - 32 : byte
}
