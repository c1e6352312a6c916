import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A place in a text file: 1-based line and column. Columns count Unicode scalars, so a tab or an "é" is one.
public struct TextPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: TextPosition, b: TextPosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// Key paths as problems print them: `sources.isp.port`, `mailboxes[2].source`, `targets["my box"].path`.
/// One spelling, used by the parser's position map and by the validator alike.
enum PlanPath {
    static func member(_ parent: String, _ key: String) -> String {
        if isPlain(key) { return parent.isEmpty ? key : "\(parent).\(key)" }
        let escaped = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\(parent)[\"\(sanitizeForDisplay(escaped, limit: 80))\"]"
    }

    static func element(_ parent: String, _ index: Int) -> String { "\(parent)[\(index)]" }

    /// The enclosing path ("mailboxes[2].source" → "mailboxes[2]" → "mailboxes" → ""), or nil at the root.
    static func parent(_ path: String) -> String? {
        guard !path.isEmpty else { return nil }
        if path.hasSuffix("]"), let open = lastTopLevelBracket(path) {
            return String(path[..<open])
        }
        if let dot = path.lastIndex(of: ".") { return String(path[..<dot]) }
        return ""
    }

    private static func isPlain(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || first == "$" || first.properties.isAlphabetic
        else { return false }
        return key.unicodeScalars.allSatisfy {
            $0 == "_" || $0 == "$" || $0 == "-" || $0.properties.isAlphabetic
                || ("0"..."9").contains($0)
        }
    }

    /// The "[" that opens the last subscript, skipping brackets inside a quoted key.
    private static func lastTopLevelBracket(_ path: String) -> String.Index? {
        var inQuotes = false
        var escaped = false
        var last: String.Index?
        var index = path.startIndex
        while index < path.endIndex {
            let c = path[index]
            if inQuotes {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inQuotes = false
                }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "[" {
                last = index
            }
            index = path.index(after: index)
        }
        return last
    }
}

/// A JSON5 text that does not parse, with where.
struct JSON5SyntaxError: Error, CustomStringConvertible {
    var position: TextPosition
    var message: String
    var description: String { "\(position): \(message)" }
}

/// A parsed JSON5 document: the value tree plus where every part of it is written.
struct JSON5Document {
    var value: JSONValue
    /// Key path → position: an object member's key, an array element's first character, the root's first character.
    var positions: [String: TextPosition]
    /// Keys written twice in one object. JSON5 keeps the last; in a plan it is nearly always a mistake.
    var duplicateKeys: [(path: String, position: TextPosition, first: TextPosition)]
}

/// A JSON5 parser (https://spec.json5.org) that remembers positions, so plan problems can say `FILE:LINE:COL`.
///
/// All of JSON5: `//` and `/* */` comments, trailing commas, unquoted (ECMAScript identifier) keys, single-quoted
/// strings, backslash-newline continuations, `\x` escapes, hexadecimal numbers, leading or trailing decimal points,
/// explicit `+`, `Infinity` and `NaN`. Bounded: at most 16 MiB of input and 64 levels of nesting, so a hostile or
/// broken file cannot exhaust memory or the stack.
struct JSON5Parser {
    static let maxBytes = 16 << 20
    static let maxDepth = 64

    private let text: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1
    private var positions: [String: TextPosition] = [:]
    private var duplicates: [(path: String, position: TextPosition, first: TextPosition)] = []

    private init(_ text: [Unicode.Scalar]) {
        self.text = text
    }

    static func parse(_ data: Data) throws -> JSON5Document {
        guard data.count <= maxBytes else {
            throw JSON5SyntaxError(
                position: TextPosition(line: 1, column: 1),
                message: "the file is larger than 16 MiB; a plan never needs to be that big")
        }
        var parser = JSON5Parser(try decodeUTF8(data))
        try parser.skipSpace()
        let root = try parser.value(path: "", depth: 0)
        try parser.skipSpace()
        if let extra = parser.peek() {
            throw parser.error("unexpected \(describe(extra)) after the end of the plan's top-level value")
        }
        return JSON5Document(value: root, positions: parser.positions, duplicateKeys: parser.duplicates)
    }

    /// Strict UTF-8: a broken byte is reported with its place instead of silently becoming U+FFFD.
    private static func decodeUTF8(_ data: Data) throws -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(data.count)
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                scalars.append(scalar)
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                return scalars
            case .error:
                throw JSON5SyntaxError(
                    position: TextPosition(line: line, column: column),
                    message: "the file is not valid UTF-8 here; save it as UTF-8")
            }
        }
    }

    // MARK: - Reading characters

    var position: TextPosition { TextPosition(line: line, column: column) }

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < text.count ? text[index + offset] : nil
    }

    @discardableResult
    mutating func advance() -> Unicode.Scalar? {
        guard index < text.count else { return nil }
        let c = text[index]
        index += 1
        switch c {
        case "\n", "\u{2028}", "\u{2029}":
            line += 1
            column = 1
        case "\r":
            // CR LF is one line break: the LF moves to the next line.
            if peek() == "\n" {
                column += 1
            } else {
                line += 1
                column = 1
            }
        default:
            column += 1
        }
        return c
    }

    func error(_ message: String, at where: TextPosition? = nil) -> JSON5SyntaxError {
        JSON5SyntaxError(position: `where` ?? position, message: message)
    }

    static func isLineTerminator(_ c: Unicode.Scalar) -> Bool {
        c == "\n" || c == "\r" || c == "\u{2028}" || c == "\u{2029}"
    }

    /// JSON5 white space (spec §6): the ECMAScript WhiteSpace and LineTerminator sets.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\t", "\n", "\u{0B}", "\u{0C}", "\r", " ", "\u{A0}", "\u{2028}", "\u{2029}", "\u{FEFF}": true
        default: c.properties.generalCategory == .spaceSeparator
        }
    }

    /// Skips white space and comments. An unterminated block comment is an error where it starts.
    private mutating func skipSpace() throws {
        while let c = peek() {
            if Self.isSpace(c) {
                advance()
            } else if c == "/" && peek(1) == "/" {
                while let d = peek(), !Self.isLineTerminator(d) { advance() }
            } else if c == "/" && peek(1) == "*" {
                let start = position
                advance()
                advance()
                var closed = false
                while let d = peek() {
                    if d == "*" && peek(1) == "/" {
                        advance()
                        advance()
                        closed = true
                        break
                    }
                    advance()
                }
                if !closed { throw error("this /* comment is never closed with */", at: start) }
            } else {
                return
            }
        }
    }

    static func describe(_ c: Unicode.Scalar?) -> String {
        guard let c else { return "end of file" }
        if isLineTerminator(c) { return "a line break" }
        if c.value >= 0x21 && c.value < 0x7F { return "'\(Character(c))'" }
        if c == " " { return "a space" }
        return "character U+" + String(c.value, radix: 16, uppercase: true).leftPadded(to: 4, with: "0")
    }

    // MARK: - Values

    private mutating func value(path: String, depth: Int) throws -> JSONValue {
        if path.isEmpty { positions[""] = position }
        guard let c = peek() else { throw error("unexpected end of file: a value is missing") }
        switch c {
        case "{": return try object(path: path, depth: depth + 1)
        case "[": return try array(path: path, depth: depth + 1)
        case "\"", "'": return .string(try string())
        case "0"..."9", "-", "+", ".": return .number(try number())
        default:
            if Self.isIdentifierStart(c) || c == "\\" {
                let start = position
                let word = try identifier()
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "null": return .null
                case "Infinity": return .number(.infinity)
                case "NaN": return .number(.nan)
                default:
                    throw error("unexpected word \(word): text values need quotes, as in \"\(word)\"", at: start)
                }
            }
            throw error(
                "unexpected \(Self.describe(c)): a value (text in quotes, a number, true, false, null, "
                    + "{ an object } or [ a list ]) was expected")
        }
    }

    private mutating func object(path: String, depth: Int) throws -> JSONValue {
        let open = position
        guard depth <= Self.maxDepth else { throw error("nested more than \(Self.maxDepth) levels deep") }
        advance()
        var members: [String: JSONValue] = [:]
        var keyPositions: [String: TextPosition] = [:]
        while true {
            try skipSpace()
            guard let c = peek() else {
                throw error(
                    "unexpected end of file: the object opened at line \(open.line), column \(open.column) "
                        + "is not closed with }")
            }
            if c == "}" {
                advance()
                return .object(members)
            }
            let keyStart = position
            let key = try objectKey(startingWith: c)
            let memberPath = PlanPath.member(path, key)
            if let first = keyPositions[key] {
                duplicates.append((memberPath, keyStart, first))
                // Positions inside the earlier value would point at text that no longer counts.
                positions = positions.filter {
                    !$0.key.hasPrefix(memberPath + ".") && !$0.key.hasPrefix(memberPath + "[")
                }
            }
            members[key] = try value(path: memberPath, depth: depth)
            keyPositions[key] = keyStart
            positions[memberPath] = keyStart
            try skipSpace()
            switch peek() {
            case ","?:
                advance()
            case "}"?:
                advance()
                return .object(members)
            case nil:
                throw error(
                    "unexpected end of file: the object opened at line \(open.line), column \(open.column) "
                        + "is not closed with }")
            case let other?:
                let hint =
                    other == "\"" || other == "'" || Self.isIdentifierStart(other)
                    ? " (is a comma missing before it?)" : ""
                throw error("expected ',' or '}' after the value of \(key), found \(Self.describe(other))\(hint)")
            }
        }
    }

    /// A member's key (quoted, or a bare identifier) and the ':' after it.
    private mutating func objectKey(startingWith c: Unicode.Scalar) throws -> String {
        let key: String
        if c == "\"" || c == "'" {
            key = try string()
        } else if Self.isIdentifierStart(c) || c == "\\" {
            key = try identifier()
        } else {
            throw error("expected a key or }, found \(Self.describe(c))")
        }
        try skipSpace()
        guard peek() == ":" else {
            throw error("expected ':' after the key \(key), found \(Self.describe(peek()))")
        }
        advance()
        try skipSpace()
        return key
    }

    private mutating func array(path: String, depth: Int) throws -> JSONValue {
        let open = position
        guard depth <= Self.maxDepth else { throw error("nested more than \(Self.maxDepth) levels deep") }
        advance()
        var items: [JSONValue] = []
        while true {
            try skipSpace()
            guard let c = peek() else {
                throw error(
                    "unexpected end of file: the list opened at line \(open.line), column \(open.column) "
                        + "is not closed with ]")
            }
            if c == "]" {
                advance()
                return .array(items)
            }
            let elementPath = PlanPath.element(path, items.count)
            positions[elementPath] = position
            items.append(try value(path: elementPath, depth: depth))
            try skipSpace()
            switch peek() {
            case ","?:
                advance()
            case "]"?:
                advance()
                return .array(items)
            case nil:
                throw error(
                    "unexpected end of file: the list opened at line \(open.line), column \(open.column) "
                        + "is not closed with ]")
            case let other?:
                throw error(
                    "expected ',' or ']' after a list element, found \(Self.describe(other))"
                        + (other == "{" || other == "\"" || other == "'" ? " (is a comma missing before it?)" : ""))
            }
        }
    }
}
