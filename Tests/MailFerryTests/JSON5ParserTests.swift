import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

@Suite struct JSON5ParserTests {
    func parse(_ text: String) throws -> JSON5Document {
        try JSON5Parser.parse(Data(text.utf8))
    }

    func syntaxError(_ text: String) -> JSON5SyntaxError? {
        #expect(throws: JSON5SyntaxError.self) { try JSON5Parser.parse(Data(text.utf8)) }
    }

    @Test func theWholeOfJSON5() throws {
        // The example of https://spec.json5.org, plus the rest of the grammar.
        let text = """
            // comments
            /* block
               comment */
            {
              unquoted: 'and you can quote me on that',
              singleQuotes: 'I can use "double quotes" here',
              lineBreaks: "Look, Mom! \\
            No \\\\n's!",
              hexadecimal: 0xdecaf,
              leadingDecimalPoint: .8675309, andTrailing: 8675309.,
              positiveSign: +1,
              trailingComma: 'in objects', andIn: ['arrays',],
              "backwardsCompatible": "with JSON",
              exp: -1.5e3, zero: 0, neg: -0x10,
              escapes: "\\x41\\u00e9\\t\\v\\0\\/\\q\\uD83D\\uDE00",
              $dollar_1: null, t: true, f: false,
              \\u0061b: 1,
              nested: { a: [1, [2, { b: [] }]], e: {} },
            }
            """
        let document = try parse(text)
        guard case .object(let o) = document.value else {
            Issue.record("not an object")
            return
        }
        #expect(o["unquoted"] == .string("and you can quote me on that"))
        #expect(o["singleQuotes"] == .string("I can use \"double quotes\" here"))
        #expect(o["lineBreaks"] == .string("Look, Mom! No \\n's!"))
        #expect(o["hexadecimal"] == .number(0xdecaf))
        #expect(o["leadingDecimalPoint"] == .number(0.8675309))
        #expect(o["andTrailing"] == .number(8_675_309))
        #expect(o["positiveSign"] == .number(1))
        #expect(o["andIn"] == .array([.string("arrays")]))
        #expect(o["backwardsCompatible"] == .string("with JSON"))
        #expect(o["exp"] == .number(-1500))
        #expect(o["neg"] == .number(-16))
        #expect(o["escapes"] == .string("Aé\t\u{0B}\0/q😀"))
        #expect(o["$dollar_1"] == .null && o["t"] == .bool(true) && o["f"] == .bool(false))
        #expect(o["ab"] == .number(1))
        #expect(
            o["nested"]
                == .object([
                    "a": .array([.number(1), .array([.number(2), .object(["b": .array([])])])]),
                    "e": .object([:]),
                ]))
        #expect(document.positions["unquoted"] == TextPosition(line: 5, column: 3))
        #expect(document.positions["lineBreaks"] == TextPosition(line: 7, column: 3))
        #expect(document.positions["hexadecimal"] == TextPosition(line: 9, column: 3))
        #expect(document.positions["andIn[0]"] == TextPosition(line: 12, column: 40))
        #expect(document.positions["nested.a[1][1].b"] == TextPosition(line: 18, column: 26))
        #expect(document.positions[""] == TextPosition(line: 4, column: 1))
    }

    @Test func infinityAndNaNParseAsNumbers() throws {
        guard case .object(let o) = try parse("{ a: Infinity, b: -Infinity, c: NaN, d: +Infinity }").value else {
            Issue.record("not an object")
            return
        }
        #expect(o["a"] == .number(.infinity) && o["b"] == .number(-.infinity) && o["d"] == .number(.infinity))
        if case .number(let nan)? = o["c"] { #expect(nan.isNaN) } else { Issue.record("NaN") }
    }

    @Test func keysWithOddCharactersGetQuotedPaths() throws {
        let document = try parse("{ targets: { \"my box\": { path: 1 }, 'a.b': 2 } }")
        #expect(document.positions["targets[\"my box\"].path"] == TextPosition(line: 1, column: 26))
        #expect(document.positions["targets[\"a.b\"]"] == TextPosition(line: 1, column: 37))
        #expect(PlanPath.parent("targets[\"my box\"].path") == "targets[\"my box\"]")
        #expect(PlanPath.parent("targets[\"my box\"]") == "targets")
        #expect(PlanPath.parent("mailboxes[2].global.rules[0].match") == "mailboxes[2].global.rules[0]")
        #expect(PlanPath.parent("mailboxes[2]") == "mailboxes")
        #expect(PlanPath.parent("mailboxes") == "")
        #expect(PlanPath.parent("") == nil)
    }

    @Test func duplicateKeysAreReportedWithBothPlaces() throws {
        let document = try parse("{\n  a: 1,\n  b: 2,\n  a: 3,\n}")
        #expect(document.duplicateKeys.count == 1)
        #expect(document.duplicateKeys.first?.path == "a")
        #expect(document.duplicateKeys.first?.position == TextPosition(line: 4, column: 3))
        #expect(document.duplicateKeys.first?.first == TextPosition(line: 2, column: 3))
    }

    @Test func lineEndingsAllCount() throws {
        let document = try parse("{\r\n a: 1,\r b: 2,\u{2028} c: 3 }")
        #expect(document.positions["a"] == TextPosition(line: 2, column: 2))
        #expect(document.positions["b"] == TextPosition(line: 3, column: 2))
        #expect(document.positions["c"] == TextPosition(line: 4, column: 2))
    }

    @Test(arguments: [
        ("{ a: 1 b: 2 }", 1, 8, "expected ',' or '}' after the value of a, found 'b' (is a comma missing before it?)"),
        ("{ a: implicit }", 1, 6, "unexpected word implicit: text values need quotes, as in \"implicit\""),
        ("{ a = 1 }", 1, 5, "expected ':' after the key a, found '='"),
        (
            "{ a: 'x\n' }", 1, 8,
            "a line break inside quoted text; close the quote, or end the line with \\ to continue "
                + "the text on the next line"
        ),
        ("{ a: \"x }", 1, 6, "this text is never closed with its \""),
        ("{\n  a: [1, 2\n}", 3, 1, "expected ',' or ']' after a list element, found '}'"),
        ("{ a: 1, /* x", 1, 9, "this /* comment is never closed with */"),
        ("{ a: 01 }", 1, 6, "a number cannot start with 0 (write 1, not 01)"),
        ("{ a: 0x }", 1, 6, "0x must be followed by hexadecimal digits"),
        ("{ a: 12abc }", 1, 6, "unexpected 'a' in a number"),
        ("{ a: 1e }", 1, 6, "the exponent of this number has no digits"),
        ("{ a: '\\1' }", 1, 7, "\\1 is not an escape JSON5 allows"),
        ("{ a: '\\u12' }", 1, 7, "expected 4 hexadecimal digits in this escape"),
        ("{ a: '\\uD800' }", 1, 7, "\\ud800 is half of a surrogate pair without its other half"),
        ("{ a: 1 } x", 1, 10, "unexpected 'x' after the end of the plan's top-level value"),
        ("", 1, 1, "unexpected end of file: a value is missing"),
        ("{ a: 1,", 1, 8, "unexpected end of file: the object opened at line 1, column 1 is not closed with }"),
        (
            "{ a: @ }", 1, 6,
            "unexpected '@': a value (text in quotes, a number, true, false, null, { an object } or "
                + "[ a list ]) was expected"
        ),
        ("{ 1: 2 }", 1, 3, "expected a key or }, found '1'"),
    ])
    func syntaxErrorsSayWhereAndWhat(text: String, line: Int, column: Int, message: String) {
        let error = syntaxError(text)
        #expect(error?.position == TextPosition(line: line, column: column), "\(text)")
        #expect(error?.message == message)
    }

    @Test func boundedInSizeAndDepth() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(syntaxError(deep)?.message == "nested more than 64 levels deep")
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try parse(fine)
        let objects = String(repeating: "{a:", count: 70) + "1" + String(repeating: "}", count: 70)
        #expect(syntaxError(objects)?.message == "nested more than 64 levels deep")
        let big = Data(repeating: 0x20, count: JSON5Parser.maxBytes + 1)
        #expect(throws: JSON5SyntaxError.self) { try JSON5Parser.parse(big) }
    }

    @Test func brokenUTF8IsLocated() {
        var bytes = Array("{\n  a: 'x".utf8)
        bytes.append(0xFF)
        bytes += Array("' }".utf8)
        let error = #expect(throws: JSON5SyntaxError.self) { try JSON5Parser.parse(Data(bytes)) }
        #expect(error?.position == TextPosition(line: 2, column: 8))
        #expect(error?.message.contains("not valid UTF-8") == true)
    }
}
