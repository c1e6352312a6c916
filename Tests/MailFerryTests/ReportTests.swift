import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// What a run leaves for people and machines: the Markdown report and the non-TTY output (golden files), and the
/// JSON report checked against the schema documented in reports/README.md.
@Suite struct ReportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// A run with a little of everything a report can say.
    static var summary: RunSummary {
        var chris = MailboxResult(key: "isp/chris", address: "chris@contoso.example", target: "archive")
        chris.onServer = 1234
        chris.new = 40
        chris.delivered = 37
        chris.bytes = 5_432_100
        chris.duplicate = 1
        chris.deferred = 1
        chris.failed = 1
        chris.seconds = 12.34
        chris.envelopeSources = [
            "arrival: provider-received": 37, "recipients: X-Original-To (trusted)": 30,
            "recipients: Delivered-To (guessed)": 7, "sender: Return-Path": 37,
        ]
        chris.messageErrors = ["00000042abcd: RETR refused: -ERR [SYS/TEMP] message | busy"]
        chris.notes = ["2 messages share 1 unique id(s) (a server bug): each is fetched and told apart by its content"]
        chris.authMethod = "SASL CRAM-MD5"
        chris.tlsVersion = "TLSv1.3"
        // Where the state stands after the run: two more deferred by earlier runs, waiting for their next try.
        chris.standing = MailboxStanding(deferred: 3, failed: 1)
        var kelly = MailboxResult(key: "isp/kelly", address: "kelly@contoso.example", target: "relay")
        kelly.error = "pop3 127.0.0.1:995: AUTH CRAM-MD5 as kelly refused: [AUTH] Authentication failed."
        kelly.errorKind = .auth
        kelly.seconds = 0.4
        var sam = MailboxResult(key: "isp/sam", address: "sam@contoso.example", target: "relay")
        sam.onServer = 3
        sam.delivered = 2
        sam.reconciled = 1
        sam.bytes = 2048
        sam.possibleDuplicates = ["0000000a"]
        sam.waiting = nil
        sam.seconds = 1.0
        var everyone = MailboxResult(key: "isp/everyone", address: "everyone@contoso.example", target: "archive")
        everyone.onServer = 3
        everyone.new = 3
        everyone.delivered = 3
        everyone.routed = 3
        everyone.bytes = 4096
        everyone.seconds = 0.5
        everyone.noteRouting(
            uidl: "00000007a1",
            RoutedDelivery(
                mailbox: "postmaster@contoso.example", recipients: [],
                because: "message: no recipient recovered from the trace headers, and no To/Cc address → fallback",
                isFallback: true, isGuessed: false))
        everyone.noteRouting(
            uidl: "00000008a1",
            RoutedDelivery(
                mailbox: "dana@contoso.example", recipients: ["dana@wingtiptoys.com"],
                because: "dana@wingtiptoys.com from To (field 4, guessed): rewrite {local}@contoso.example | a pipe",
                isFallback: false, isGuessed: true))
        everyone.noteRouting(
            uidl: "00000009a1",
            RoutedDelivery(
                mailbox: "bob@contoso.example", recipients: ["bob@wingtiptoys.com"],
                because: "bob@wingtiptoys.com from X-Original-To (field 1, trusted): rewrite {local}@contoso.example",
                isFallback: false, isGuessed: false))
        return RunSummary(
            runID: "20261221T090000.000Z", plan: "wingtip", startedAt: at("2026-12-21T09:00:00Z"),
            finishedAt: at("2026-12-21T09:00:14Z"), mailboxes: [chris, kelly, sam, everyone],
            interrupted: false, exitCode: 1)
    }

    /// The report lists the first 50 fallback or guessed deliveries of a mailbox and counts the rest; trusted
    /// deliveries are not listed.
    @Test func routingProvenanceIsBounded() throws {
        var result = MailboxResult(key: "isp/everyone", address: "everyone@contoso.example", target: "archive")
        for n in 0..<60 {
            result.noteRouting(
                uidl: "u\(n)",
                RoutedDelivery(
                    mailbox: "m\(n)@contoso.example", recipients: [],
                    because: "why \(n)", isFallback: n % 2 == 0,
                    isGuessed: n % 3 == 0))
        }
        let provenance = try #require(result.routingProvenance)
        // 0..<60: 30 even (fallback), 20 multiples of 3 (guessed), 10 both; 40 worth listing.
        #expect(provenance.fallback == 30 && provenance.guessed == 20)
        #expect(provenance.deliveries.count == 40 && provenance.notListed == 0)
        for n in 60..<80 {
            result.noteRouting(
                uidl: "u\(n)",
                RoutedDelivery(
                    mailbox: "m@contoso.example", recipients: [],
                    because: "why", isFallback: true, isGuessed: false))
        }
        #expect(result.routingProvenance?.deliveries.count == 50 && result.routingProvenance?.notListed == 10)
        #expect(result.routingProvenance?.deliveries.last?.uidl == "u69")
        var person = MailboxResult(key: "isp/chris", address: "chris@contoso.example", target: "archive")
        person.noteRouting(
            uidl: "u",
            RoutedDelivery(
                mailbox: "chris@contoso.example", recipients: [], because: "",
                isFallback: false, isGuessed: false))
        #expect(person.routingProvenance == nil)
    }

    @Test func markdownReport() throws {
        try GoldenTests.compare(ReportWriter.markdown(Self.summary), with: "reports/run.md.expected")
    }

    /// The schema is the JSON block of reports/README.md.
    static func schema() throws -> JSONValue {
        let text = try String(contentsOf: root.appendingPathComponent("reports/README.md"), encoding: .utf8)
        let start = try #require(text.range(of: "```json\n"))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        return try json(Data(text[start.upperBound..<end.lowerBound].utf8))
    }

    static func json(_ data: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: data) }

    @Test func theValidatorRejectsWhatTheSchemaForbids() throws {
        let schema = try Self.schema()
        let data = try ReportWriter.json(Self.summary)
        let good = try Self.json(data)
        #expect(SchemaValidator.problems(good, schema).isEmpty, "\(SchemaValidator.problems(good, schema))")
        var bad = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        bad["surprise"] = 1
        bad["exitCode"] = 7
        var boxes = try #require(bad["mailboxes"] as? [[String: Any]])
        boxes[0]["delivered"] = -1
        boxes[0].removeValue(forKey: "bytes")
        boxes[1]["errorKind"] = "gremlins"
        bad["mailboxes"] = boxes
        bad["startedAt"] = "yesterday"
        let problems = SchemaValidator.problems(try Self.json(try JSONSerialization.data(withJSONObject: bad)), schema)
        #expect(
            Set(problems) == [
                "$: unknown field surprise", "$.exitCode: 7 is not one of [0, 1, 130, 143]",
                "$.mailboxes[0].delivered: -1 is below 0", "$.mailboxes[0]: bytes is missing",
                "$.mailboxes[1].errorKind: gremlins is not one of [transient, permanent, quota, "
                    + "auth, tls, protocol, local]",
                "$.startedAt: yesterday is not a date-time",
            ], "\(problems)")
    }

    /// A real migration (Dovecot as the legacy server, Maildir targets): what cron sees on stdout, snapshotted with
    /// times and paths normalised, and the JSON report it wrote, valid against the documented schema.
    @Test func nonTTYRunOutputAndItsJSONReport() throws {
        let e2e = try EndToEnd("report", counts: ["alice": 4, "bob": 2])
        let first = try e2e.run(["--parallel", "1"])
        #expect(first.code == 0, "\(first.err)")
        let second = try e2e.run(["--parallel", "1"])
        let quiet = try e2e.run(["--quiet"])
        #expect(quiet.code == 0 && quiet.out.isEmpty && quiet.err.isEmpty, "\(quiet.out)")
        var transcript = ""
        for (name, result) in [("first run", first), ("second run", second)] {
            transcript += "--- \(name): exit \(result.code)\n" + Self.normalise(result.out, workspace: e2e.workspace)
            transcript += result.err.isEmpty ? "" : "--- stderr\n\(result.err)"
        }
        try GoldenTests.compare(transcript, with: "reports/run-output.expected")
        let folder = e2e.workspace + "/reports/e2e"
        let reports = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
            .filter { $0 != "verify.json" }
        #expect(reports.count == 3)
        let schema = try Self.schema()
        for name in reports {
            let report = try Self.json(Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            let problems = SchemaValidator.problems(report, schema)
            #expect(problems.isEmpty, "\(name): \(problems)")
        }
        #expect(FileManager.default.fileExists(atPath: folder + "/index.html"))
    }

    /// Run ids, durations, the time stamp of each line (output that is not a terminal carries one) and the
    /// workspace path vary from run to run.
    static func normalise(_ text: String, workspace: String) -> String {
        var out = text.replacingOccurrences(of: workspace, with: "$DIR")
        for (pattern, replacement) in [
            (#"(?m)^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "#, "TIME "),
            (#"(?m)^ {21}"#, "     "),
            (#"[0-9]{8}T[0-9]{6}\.[0-9]{3}Z"#, "RUN-ID"), (#"\[[0-9]+\.[0-9] s\]"#, "[T s]"),
            (#"in [0-9]+\.[0-9] s"#, "in T s"),
        ] {
            out = out.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return out
    }
}

/// A small JSON Schema checker: the subset reports/README.md uses (type, required, properties,
/// additionalProperties, items, enum, minimum, format date-time).
enum SchemaValidator {
    static func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let rules) = schema else { return ["\(path): the schema is not an object"] }
        if case .string(let type) = rules["type"], !matches(value, type) {
            return ["\(path): \(describe(value)) is not of type \(type)"]
        }
        var out: [String] = []
        if case .array(let allowed) = rules["enum"], !allowed.contains(value) {
            out.append("\(path): \(describe(value)) is not one of [\(allowed.map(describe).joined(separator: ", "))]")
        }
        if case .number(let minimum) = rules["minimum"], case .number(let number) = value, number < minimum {
            out.append("\(path): \(describe(value)) is below \(describe(.number(minimum)))")
        }
        if rules["format"] == .string("date-time"), case .string(let text) = value,
            ISO8601DateFormatter().date(from: text) == nil
        {
            out.append("\(path): \(text) is not a date-time")
        }
        if case .object(let object) = value {
            let properties: [String: JSONValue]
            if case .object(let named) = rules["properties"] { properties = named } else { properties = [:] }
            if case .array(let required) = rules["required"] {
                for case .string(let name) in required where object[name] == nil {
                    out.append("\(path): \(name) is missing")
                }
            }
            for (name, field) in object.sorted(by: { $0.key < $1.key }) {
                if let rule = properties[name] {
                    out += problems(field, rule, at: "\(path).\(name)")
                } else if let extra = rules["additionalProperties"] {
                    if extra == .bool(false) {
                        out.append("\(path): unknown field \(name)")
                    } else if case .object = extra {
                        out += problems(field, extra, at: "\(path).\(name)")
                    }
                }
            }
        }
        if case .array(let array) = value, let items = rules["items"] {
            for (index, item) in array.enumerated() { out += problems(item, items, at: "\(path)[\(index)]") }
        }
        return out
    }

    static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number):
            true
        case ("integer", .number(let number)): number == number.rounded()
        default: false
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .number(let number): number == number.rounded() ? String(Int64(number)) : "\(number)"
        case .string(let text): text
        case .bool(let flag): "\(flag)"
        default: value.typeName
        }
    }
}
