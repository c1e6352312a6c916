import Foundation
import MailCore
import MailFerry

/// How `run` prints what it says: text lines for people (the default), or with `--log-format json` one JSON object
/// per line for journald and log shippers.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json
}

/// One thing `run` says: the text line a person reads and, for `--log-format json`, the same facts as fields.
struct LogEntry: Sendable {
    enum Level: String, Sendable {
        case debug, info, warning, error
    }

    /// A field's value in the JSON object.
    enum Value: Sendable, Equatable {
        case text(String)
        case number(Int)
        case decimal(Double)
        case flag(Bool)
    }

    var level = Level.info
    /// What happened: "run-start", "mailbox", "run-end", "report", "setup-problem", "trace", "message"...
    var event: String
    /// SOURCE/USER, for what concerns one mailbox.
    var mailbox: String?
    /// Message and mailbox counts, in the order written.
    var counts: [(String, Int)] = []
    /// Further fields (the run id, the exit code, a mailbox's error...), in the order written.
    var fields: [(String, Value)] = []
    /// The text line (several lines for a mailbox with its notes), exactly as the text format prints it.
    var message: String

    init(
        _ level: Level = .info, event: String, mailbox: String? = nil, counts: [(String, Int)] = [],
        fields: [(String, Value)] = [], message: String
    ) {
        self.level = level
        self.event = event
        self.mailbox = mailbox
        self.counts = counts
        self.fields = fields
        self.message = message
    }

    /// The JSON object on one line: time, level, plan, mailbox, event, counts, the further fields, then the message.
    func json(time: Date, plan: String?) -> String {
        var members: [(String, String)] = [
            ("time", Self.quoted(UTCDate.string(time, .iso8601Milliseconds))), ("level", Self.quoted(level.rawValue)),
        ]
        if let plan { members.append(("plan", Self.quoted(plan))) }
        if let mailbox { members.append(("mailbox", Self.quoted(mailbox))) }
        members.append(("event", Self.quoted(event)))
        if !counts.isEmpty {
            members.append(
                ("counts", "{" + counts.map { "\(Self.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"))
        }
        for (name, value) in fields { members.append((name, Self.rendered(value))) }
        members.append(("message", Self.quoted(message)))
        return "{" + members.map { "\(Self.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func rendered(_ value: Value) -> String {
        switch value {
        case .text(let text): quoted(text)
        case .number(let number): String(number)
        case .decimal(let number): number.isFinite ? String(format: "%.3f", number) : "null"
        case .flag(let flag): flag ? "true" : "false"
        }
    }

    /// A JSON string (RFC 8259 §7): quote, backslash and every control character escaped; the rest as UTF-8.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _
            where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
