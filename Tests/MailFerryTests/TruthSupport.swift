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

/// What the "truth" tests (issue 19) share: output lines without their time stamps, the real binary run with a
/// folder mounted read-only, a plan edited in place.
enum Truth {
    /// "2026-12-21T09:00:03Z ": the stamp `run` puts before every line when its output is not a terminal.
    static let stamp = #"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "#

    /// The lines of `text`, each stripped of its time stamp (or, for the continuation lines of an entry, of the
    /// stamp's width in spaces); a line with neither is recorded as an issue.
    static func unstamped(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let pad = String(repeating: " ", count: 21)
        var first = true
        return text.split(separator: "\n").map { line in
            defer { first = false }
            if let range = line.range(of: stamp, options: .regularExpression) {
                return String(line[range.upperBound...])
            }
            if !first && line.hasPrefix(pad) { return String(line.dropFirst(pad.count)) }
            Issue.record("no time stamp: \(line)", sourceLocation: sourceLocation)
            return String(line)
        }
    }

    /// Runs `mailferry` in `dir` in a mount namespace of its own where each of `readOnly` (folders) is a read-only
    /// bind mount of itself: the honest "read-only file system" (root writes through mode bits, not through this).
    static func mailferry(
        _ arguments: [String], readOnly: [String], in dir: String, environment: [String: String] = [:]
    ) throws -> (code: Int32, out: String, err: String) {
        let mounts = readOnly.map { "mount --bind -o ro '\($0)' '\($0)' || exit 97" }.joined(separator: " && ")
        let child = try ChildProcess(
            "/usr/bin/unshare",
            ["-m", "/bin/sh", "-c", "\(mounts) && cd \"$0\" && exec \"$@\"", dir, EndToEnd.binary] + arguments,
            environment: environment)
        let result = child.finish(within: 120, "mailferry \(arguments) with \(readOnly) read-only")
        #expect(result.code != 97, "the read-only bind mount failed: \(result.err)")
        return result
    }

    /// Replaces `old` by `new` in the plan file (which must contain it).
    static func editPlan(_ e2e: EndToEnd, _ old: String, _ new: String) throws {
        let text = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
        #expect(text.contains(old), "the plan has no \(old)")
        try text.replacingOccurrences(of: old, with: new).write(
            toFile: e2e.planFile, atomically: false, encoding: .utf8)
    }

    /// Sizes, durations and run ids as "S", "T" and "RUN-ID", so a line can be compared whole.
    static func normalised(_ line: String) -> String {
        var out = line
        for (pattern, replacement) in [
            (#"[0-9]{8}T[0-9]{6}\.[0-9]{3}Z"#, "RUN-ID"), (#"\([0-9.]+ (B|KiB|MiB)\)"#, "(S)"),
            (#"\[[0-9]+\.[0-9] s\]"#, "[T s]"), (#"in [0-9]+\.[0-9] s"#, "in T s"),
        ] {
            out = out.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return out
    }

    /// Rows of the plan's state by state.
    static func states(_ e2e: EndToEnd) throws -> [String: Int] {
        let db = try Database(path: e2e.statePath)
        var counts: [String: Int] = [:]
        for (state, count) in try db.prepare(
            "SELECT state, count(*) FROM messages WHERE parent_id IS NULL GROUP BY state"
        ).rows([], { ($0.text(0) ?? "", Int($0.int(1))) }) {
            counts[state] = count
        }
        withExtendedLifetime(db) {}
        return counts
    }

    /// How many lines of Dovecot's log name a POP3 login process (each connection leaves one).
    static func pop3Connections(_ lab: DovecotLab) -> Int {
        let log = (try? String(contentsOf: lab.logFile, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("pop3-login") }.count
    }
}
