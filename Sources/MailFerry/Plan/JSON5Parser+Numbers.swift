import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Numbers (JSON5 §4).
extension JSON5Parser {
    /// A JSON5 number (§4): decimal, hexadecimal, with sign, leading or trailing point, Infinity, NaN.
    mutating func number() throws -> Double {
        let start = position
        var sign = 1.0
        if peek() == "+" || peek() == "-" {
            if advance() == "-" { sign = -1 }
        }
        if let c = peek(), Self.isIdentifierStart(c) {
            let word = try identifier()
            switch word {
            case "Infinity": return sign * .infinity
            case "NaN": return .nan
            default: throw error("unexpected word \(word) after a sign", at: start)
            }
        }
        if peek() == "0" && (peek(1) == "x" || peek(1) == "X") {
            return sign * (try hexNumber(start: start))
        }
        return sign * (try decimalNumber(start: start))
    }

    /// `0x` and hexadecimal digits, the sign already read.
    private mutating func hexNumber(start: TextPosition) throws -> Double {
        advance()
        advance()
        var digits = ""
        while let c = peek(), c.properties.isASCIIHexDigit {
            digits.unicodeScalars.append(c)
            advance()
        }
        guard !digits.isEmpty, let value = UInt64(digits, radix: 16) else {
            throw error(
                digits.isEmpty ? "0x must be followed by hexadecimal digits" : "this number is too large",
                at: start)
        }
        try checkNumberEnd(start)
        return Double(value)
    }

    /// Digits with an optional point and exponent, the sign already read. JSON5 allows "5." and ".5", which
    /// `Double(_:)` does not: the missing zero is put back before converting.
    private mutating func decimalNumber(start: TextPosition) throws -> Double {
        var literal = ""
        let intDigits = readDigits(into: &literal)
        if intDigits > 1 && literal.hasPrefix("0") {
            throw error("a number cannot start with 0 (write \(Int(literal) ?? 0), not \(literal))", at: start)
        }
        var fracDigits = 0
        if peek() == "." {
            literal += "."
            advance()
            fracDigits = readDigits(into: &literal)
        }
        guard intDigits + fracDigits > 0 else { throw error("a number needs at least one digit", at: start) }
        if peek() == "e" || peek() == "E" {
            literal += "e"
            advance()
            if let c = peek(), c == "+" || c == "-" {
                literal.unicodeScalars.append(c)
                advance()
            }
            guard readDigits(into: &literal) > 0 else {
                throw error("the exponent of this number has no digits", at: start)
            }
        }
        try checkNumberEnd(start)
        if literal.hasPrefix(".") { literal = "0" + literal }
        if literal.hasSuffix(".") { literal += "0" }
        guard let value = Double(literal.replacingOccurrences(of: ".e", with: ".0e")) else {
            throw error("this is not a number", at: start)
        }
        return value
    }

    /// Appends the decimal digits at the current place to `literal`; returns how many there were.
    private mutating func readDigits(into literal: inout String) -> Int {
        var count = 0
        while let c = peek(), ("0"..."9").contains(c) {
            literal.unicodeScalars.append(c)
            advance()
            count += 1
        }
        return count
    }

    /// "12abc" is not a number followed by a word: say so where it starts.
    private func checkNumberEnd(_ start: TextPosition) throws {
        if let c = peek(), Self.isIdentifierPart(c) || c == "." {
            throw error("unexpected \(Self.describe(c)) in a number", at: start)
        }
    }
}
