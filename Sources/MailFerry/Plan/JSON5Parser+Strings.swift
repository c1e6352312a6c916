import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Keys and quoted text: ECMAScript identifiers (JSON5 §3) and single- or double-quoted strings (JSON5 §5).
extension JSON5Parser {
    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "$" || c == "_" || c.properties.isAlphabetic
    }

    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        if isIdentifierStart(c) || c == "\u{200C}" || c == "\u{200D}" { return true }
        switch c.properties.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .connectorPunctuation: return true
        default: return false
        }
    }

    /// An ECMAScript IdentifierName (JSON5 §3), `\uXXXX` escapes included.
    mutating func identifier() throws -> String {
        var out = String.UnicodeScalarView()
        while let c = peek() {
            if c == "\\" {
                let start = position
                advance()
                guard advance() == "u" else { throw error("only \\u escapes are allowed in a key", at: start) }
                let scalar = try hexScalar(digits: 4, start: start)
                guard out.isEmpty ? Self.isIdentifierStart(scalar) : Self.isIdentifierPart(scalar) else {
                    throw error("the escaped character cannot be part of a key", at: start)
                }
                out.append(scalar)
            } else if out.isEmpty ? Self.isIdentifierStart(c) : Self.isIdentifierPart(c) {
                out.append(c)
                advance()
            } else {
                break
            }
        }
        return String(out)
    }

    private mutating func hexScalar(digits: Int, start: TextPosition) throws -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = peek(), c.properties.isASCIIHexDigit, let digit = Int(String(c), radix: 16) else {
                throw error("expected \(digits) hexadecimal digits in this escape", at: start)
            }
            value = value * 16 + UInt32(digit)
            advance()
        }
        if digits == 4 && (0xD800...0xDBFF).contains(value) {
            // A UTF-16 surrogate pair written as two \u escapes.
            guard peek() == "\\" && peek(1) == "u" else {
                throw error(
                    "\\u\(String(value, radix: 16)) is half of a surrogate pair without its other half",
                    at: start)
            }
            let lowStart = position
            advance()
            advance()
            var low: UInt32 = 0
            for _ in 0..<4 {
                guard let c = peek(), c.properties.isASCIIHexDigit, let digit = Int(String(c), radix: 16) else {
                    throw error("expected 4 hexadecimal digits in this escape", at: lowStart)
                }
                low = low * 16 + UInt32(digit)
                advance()
            }
            guard (0xDC00...0xDFFF).contains(low) else {
                throw error("\\u\(String(value, radix: 16)) must be followed by a low surrogate", at: start)
            }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw error("\\u\(String(value, radix: 16)) is a lone surrogate, not a character", at: start)
        }
        return scalar
    }

    /// A single- or double-quoted string (JSON5 §5).
    mutating func string() throws -> String {
        let start = position
        let quote = advance()!
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw error("this text is never closed with its \(quote == "\"" ? "\"" : "'")", at: start)
            }
            if c == quote {
                advance()
                return String(out)
            }
            if c == "\n" || c == "\r" {
                throw error(
                    "a line break inside quoted text; close the quote, or end the line with \\ to "
                        + "continue the text on the next line")
            }
            if c != "\\" {
                out.append(c)
                advance()
                continue
            }
            let escapeStart = position
            advance()
            guard let e = advance() else { throw error("this text is never closed", at: start) }
            try appendEscape(e, at: escapeStart, to: &out)
        }
    }

    /// What the character after a backslash stands for (JSON5 §5.1), appended to `out`; a line continuation
    /// stands for nothing.
    private mutating func appendEscape(
        _ e: Unicode.Scalar, at escapeStart: TextPosition,
        to out: inout String.UnicodeScalarView
    ) throws {
        switch e {
        case "b": out.append("\u{08}")
        case "f": out.append("\u{0C}")
        case "n": out.append("\n")
        case "r": out.append("\r")
        case "t": out.append("\t")
        case "v": out.append("\u{0B}")
        case "0":
            if let next = peek(), ("0"..."9").contains(next) {
                throw error("octal escapes are not allowed in JSON5", at: escapeStart)
            }
            out.append("\0")
        case "1"..."9":
            throw error("\\\(Character(e)) is not an escape JSON5 allows", at: escapeStart)
        case "x": out.append(try hexScalar(digits: 2, start: escapeStart))
        case "u": out.append(try hexScalar(digits: 4, start: escapeStart))
        case "\r":
            if peek() == "\n" { advance() }  // backslash + CR LF continues the line too
        case "\n", "\u{2028}", "\u{2029}":
            break  // a line continuation: the text goes on without a line break
        default:
            out.append(e)  // \" \' \\ \/ and any other character stand for themselves
        }
    }
}
