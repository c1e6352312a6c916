import Foundation
import MailFerryLab
import Testing

@testable import MailFerry

/// A strict reader of Prometheus' text exposition format (0.0.4) as the metrics file must follow it: every family
/// announced once by `# HELP` then `# TYPE … gauge`, its samples right after, names and label names valid, label
/// values quoted with only `\\`, `\"` and `\n` escapes, values numbers, no series twice, a final newline. Each
/// breach is recorded as an issue.
struct MetricsExposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var help: [String: String] = [:]

    /// The value of the one sample `name` with exactly `labels`; nil (and an issue) when there is none.
    func value(
        _ name: String, _ labels: [String: String], sourceLocation: SourceLocation = #_sourceLocation
    ) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        if found.count != 1 {
            Issue.record("\(found.count) samples \(name)\(labels)", sourceLocation: sourceLocation)
        }
        return found.first?.value
    }

    /// The samples of `name`.
    func all(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    init(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        func fail(_ why: String, _ line: Substring) {
            Issue.record("\(why): \(line)", sourceLocation: sourceLocation)
        }
        if !text.isEmpty && !text.hasSuffix("\n") { Issue.record("no final newline", sourceLocation: sourceLocation) }
        var current: String?
        var typed = false
        var finished: Set<String> = []
        var series: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = String(rest.prefix { $0 != " " })
                if !Self.validName(name) { fail("bad metric name", line) }
                if let current { finished.insert(current) }
                if finished.contains(name) || help[name] != nil { fail("family announced twice", line) }
                current = name
                typed = false
                help[name] = String(rest.dropFirst(name.count + 1))
            } else if line.hasPrefix("# TYPE ") {
                if line != "# TYPE \(current ?? "") gauge" || typed { fail("TYPE not right after its HELP", line) }
                typed = true
            } else if line.hasPrefix("#") || line.isEmpty {
                fail("unexpected line", line)
            } else {
                guard let sample = Self.sample(line) else {
                    fail("not a sample", line)
                    continue
                }
                if sample.name != current || !typed { fail("sample outside its family", line) }
                let key = sample.name + sample.labels.sorted { $0.key < $1.key }.description
                if !series.insert(key).inserted { fail("series twice", line) }
                samples.append(sample)
            }
        }
    }

    static func validName(_ name: String) -> Bool {
        name.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*$"#, options: .regularExpression) != nil
    }

    /// `name{label="value",…} number`.
    static func sample(_ line: Substring) -> Sample? {
        let scalars = Array(line.unicodeScalars)
        var index = 0
        var name = ""
        while index < scalars.count, scalars[index] != "{", scalars[index] != " " {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        guard validName(name) else { return nil }
        var labels: [String: String] = [:]
        if index < scalars.count, scalars[index] == "{" {
            index += 1
            while index < scalars.count, scalars[index] != "}" {
                var label = ""
                while index < scalars.count, scalars[index] != "=" {
                    label.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard label.range(of: #"^[a-zA-Z_][a-zA-Z0-9_]*$"#, options: .regularExpression) != nil,
                    index + 1 < scalars.count, scalars[index + 1] == "\"", labels[label] == nil
                else { return nil }
                index += 2
                var value = ""
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\" {
                        guard index + 1 < scalars.count else { return nil }
                        switch scalars[index + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: return nil
                        }
                        index += 2
                    } else {
                        if scalars[index] == "\n" { return nil }
                        value.unicodeScalars.append(scalars[index])
                        index += 1
                    }
                }
                guard index < scalars.count else { return nil }
                index += 1
                labels[label] = value
                if index < scalars.count, scalars[index] == "," { index += 1 }
            }
            guard index < scalars.count else { return nil }
            index += 1
        }
        guard index < scalars.count, scalars[index] == " " else { return nil }
        var rest = ""
        rest.unicodeScalars.append(contentsOf: scalars[(index + 1)...])
        guard !rest.contains(" "), let value = Double(rest) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    /// `promtool check metrics` (Debian's prometheus package) on the file at `path` (its syntax, and its lint: names,
    /// units, HELP texts): the exit code and what it said; nil when promtool is not installed.
    static func promtool(_ path: String) throws -> (code: Int32, output: String)? {
        let tool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: tool) else { return nil }
        let child = try ChildProcess("/bin/sh", ["-c", "exec \"$0\" check metrics < \"$1\"", tool, path])
        let result = child.finish(within: 60, "promtool check metrics")
        return (result.code, result.out + result.err)
    }
}
