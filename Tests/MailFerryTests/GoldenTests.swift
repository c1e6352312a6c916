import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Everything a person reads, snapshotted (STYLE.md habit 8): the errors of broken plans, every help text, usage
/// errors, `init`, and the `check` table. The real binary runs in a fresh workspace; its exit code, stdout and
/// stderr are compared with `Golden/**/*.expected`, the workspace path replaced by `$DIR`.
///
/// To re-record after a deliberate change: `MAILFERRY_RECORD_GOLDEN=1 swift test --skip-build --filter GoldenTests`,
/// then review the diff of Tests/MailFerryTests/Golden before committing.
@Suite struct GoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static var recording: Bool { ProcessInfo.processInfo.environment["MAILFERRY_RECORD_GOLDEN"] == "1" }
    /// The secret every good reference in the golden plans names; never appears in any output.
    static let environment = ["MAILFERRY_GOLDEN_PW": "golden-secret-from-the-environment"]

    /// Golden/plans/*.json5: one broken (or, for contrast, valid) plan each.
    static let plans: [String] = {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("plans").path))
            ?? []
        return names.filter { $0.hasSuffix(".json5") }.map { String($0.dropLast(6)) }.sorted()
    }()

    /// Command lines whose output is snapshotted, run one after the other in one workspace.
    static let commandLines: [(String, [[String]])] = [
        ("help", [["--help"]]),
        ("help-run", [["run", "--help"]]),
        ("help-check", [["check", "--help"]]),
        ("help-init", [["init", "--help"]]),
        ("help-route", [["route", "--help"], ["help", "route"]]),
        ("help-status", [["status", "--help"], ["help", "status"]]),
        ("help-verify", [["verify", "--help"], ["verify", "-h"]]),
        ("help-adopt", [["adopt", "--help"], ["adopt", "-h"], ["help", "adopt"]]),
        ("help-backup", [["backup", "--help"], ["help", "backup"]]),
        (
            "backup-usage",
            [
                ["backup"], ["backup", "jobs/x.json5"], ["backup", "--frce", "jobs/x.json5", "x.sqlite"],
                ["backup", "jobs/x.json5", "x.sqlite", "--shard", "2/2"],
            ]
        ),
        ("help-topic", [["help", "check"], ["help", "chek"], ["check", "-h"]]),
        ("no-arguments", [[]]),
        ("unknown-command", [["chek", "jobs/x.json5"]]),
        (
            "check-usage",
            [
                ["check"], ["check", "--jsn", "jobs/x.json5"], ["check", "--parallel", "0", "jobs/x.json5"],
                ["check", "jobs/a.json5", "jobs/b.json5"],
            ]
        ),
        (
            "run-shard-usage",
            [
                ["run", "jobs/x.json5", "--shard", "3/3"], ["run", "jobs/x.json5", "--shard", "x"],
                ["run", "jobs/x.json5", "--shard", "-1/2"],
            ]
        ),
        ("missing-plan-file", [["check", "jobs/nope.json5"], ["run", "jobs/nope.json5"], ["check", "jobs"]]),
        ("init", [["init"], ["init"], ["check", "--offline", "jobs/example.json5"]]),
        ("init-path", [["init", "plans/wingtip"], ["init", "--force"], ["init", "a", "b"]]),
    ]

    @Test func thereAreAtLeastFifteenBrokenPlans() {
        #expect(Self.plans.filter { $0 != "valid-plan" }.count >= 15)
    }

    @Test(arguments: plans) func brokenPlan(_ name: String) throws {
        let dir = TempFolder("golden")
        defer { dir.cleanup() }
        try Self.copyTree(Self.folder.appendingPathComponent("plans/support").path, to: dir.path)
        let source = Self.folder.appendingPathComponent("plans/\(name).json5").path
        let text = try String(contentsOfFile: source, encoding: .utf8)
        _ = dir.file("jobs/\(name).json5", text)
        // "// golden: run {plan}" on the first line chooses the command; `check --offline` otherwise.
        var arguments = ["check", "--offline", "{plan}"]
        if let first = text.split(separator: "\n").first, first.hasPrefix("// golden: ") {
            arguments = first.dropFirst("// golden: ".count).split(separator: " ").map(String.init)
        }
        arguments = arguments.map { $0 == "{plan}" ? "jobs/\(name).json5" : $0 }
        let transcript = try Self.transcript([arguments], in: dir.path)
        try Self.compare(transcript, with: "plans/\(name).expected")
        // Whatever went wrong, no secret value is ever printed.
        for secret in ["golden-secret", "hunter2", "Summer2026!", "Adm1n-Secret", "Chris-Summer-2026"] {
            #expect(!transcript.contains(secret), "\(name) printed a secret")
        }
    }

    @Test(arguments: commandLines.map(\.0)) func commandLine(_ name: String) throws {
        let dir = TempFolder("golden-cli")
        defer { dir.cleanup() }
        let commands = Self.commandLines.first { $0.0 == name }!.1
        try Self.compare(try Self.transcript(commands, in: dir.path), with: "cli/\(name).expected")
    }

    /// The table layout, from fixed rows: not on a terminal (as wide as the cells need), wide, and squeezed into 80
    /// columns (long cells wrap within their column). No cell is ever cut.
    @Test func checkTable() throws {
        var good = CheckRow(
            mailbox: "chris@contoso.example", key: "isp/chris", origin: "mailboxes[0]",
            source: .init(name: "isp", server: "127.0.0.1:995", tls: "implicit"),
            target: .init(name: "archive", kind: "maildir"))
        good.source.reachable = true
        good.source.ok = true
        good.source.tlsVersion = "TLSv1.3"
        good.source.tlsCipher = "TLS_AES_256_GCM_SHA384"
        good.source.certificateSubject = "/O=mailferry lab/CN=localhost"
        good.source.auth = "cram-md5"
        good.source.capabilities = [
            "UIDL", "PIPELINING", "TOP", "USER", "LOGIN-DELAY 900", "EXPIRE NEVER",
            "SASL PLAIN CRAM-MD5",
        ]
        good.source.messages = 1234
        good.source.bytes = 48_000_000
        good.target.path = "/srv/mail/chris@contoso.example"
        good.target.state = "writable"
        good.target.ok = true
        good.notes = [
            "source: LOGIN-DELAY 900: the server counts this check's login; the next run may have to wait "
                + "900 s"
        ]
        var wrongPassword = good
        wrongPassword.mailbox = "kelly.longname-with-many-letters@contoso.example"
        wrongPassword.key = "isp/kelly"
        wrongPassword.source.auth = nil
        wrongPassword.source.ok = false
        wrongPassword.source.messages = nil
        wrongPassword.source.bytes = nil
        wrongPassword.source.capabilities = ["UIDL", "SASL PLAIN"]
        wrongPassword.notes = []
        wrongPassword.problems = [
            "source: pop3 127.0.0.1:995: AUTH CRAM-MD5 as kelly refused: [AUTH] Authentication "
                + "failed."
        ]
        var closed = CheckRow(
            mailbox: "sam@contoso.example", key: "closed/sam", origin: "jobs/people.csv:3",
            source: .init(name: "closed", server: "127.0.0.1:1", tls: "implicit"),
            target: .init(name: "contoso", kind: "imap"))
        closed.target.state = "not available yet"
        closed.problems = [
            "target: targets of kind \"imap\" are not available in this version yet (targets.contoso); "
                + "a run stops this mailbox",
            "source: pop3 127.0.0.1:1: cannot connect to 127.0.0.1:1: Connection refused",
        ]
        let rows = [good, wrongPassword, closed]
        var text = "not a terminal:\n" + CheckReport.table(rows, width: nil) + "\n\n"
        for width in [220, 160, 80] {
            text += "width \(width):\n" + CheckReport.table(rows, width: width) + "\n\n"
        }
        #expect(!text.contains("…"), "a cell was cut")
        #expect(
            CheckReport.table(rows, width: nil).contains("FAIL  kelly.longname-with-many-letters@contoso.example  "))
        text += CheckReport.finalLine(rows, seconds: 1.25, exitCode: 1) + "\n"
        for width in [160, 80] {
            for line in CheckReport.table(rows, width: width).split(separator: "\n")
            where !line.hasPrefix("      ")
                || line.contains(" · ")
            {
                #expect(line.count <= width, "\(line)")
            }
        }
        try Self.compare(text, with: "check/table.expected")
    }

    // MARK: - Helpers

    /// Runs `mailferry` once per argument list in `dir` and writes down what a person would see.
    static func transcript(_ commands: [[String]], in dir: String) throws -> String {
        var text = ""
        for arguments in commands {
            // The binary runs in the workspace, as an admin would start it: cd, then mailferry.
            let child = try ChildProcess(
                "/bin/sh",
                ["-c", "cd \"$0\" && exec \"$@\"", dir, EndToEnd.binary]
                    + arguments, environment: environment)
            let (code, out, err) = child.finish(within: 60, "mailferry \(arguments)")
            guard code != -1 else { return text }
            text += "$ " + (["mailferry"] + arguments).joined(separator: " ") + "\nexit \(code)\n"
            text += "--- stdout\n\(out)--- stderr\n\(err)\n"
        }
        let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        return text.replacingOccurrences(of: real, with: "$DIR").replacingOccurrences(of: dir, with: "$DIR")
    }

    /// Compares with the golden file, or records it when MAILFERRY_RECORD_GOLDEN=1.
    static func compare(
        _ actual: String, with relative: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let path = folder.appendingPathComponent(relative).path
        if recording {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try actual.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
            Issue.record(
                "no golden file \(relative); record it with MAILFERRY_RECORD_GOLDEN=1",
                sourceLocation: sourceLocation)
            return
        }
        if actual != expected {
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let index = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
            Issue.record(
                """
                \(relative) differs at line \(index + 1):
                expected: \(index < e.count ? String(e[index]) : "<end>")
                actual:   \(index < a.count ? String(a[index]) : "<end>")
                --- actual output ---
                \(actual)
                """, sourceLocation: sourceLocation)
        }
    }

    /// Copies the support files; secret files get mode 600, except those named world-readable (644): git keeps no
    /// modes, so the convention lives here.
    static func copyTree(_ from: String, to: String) throws {
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: from) else { return }
        while let relative = walker.nextObject() as? String {
            let source = from + "/" + relative
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            let target = to + "/" + relative
            try manager.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try? manager.removeItem(atPath: target)
            try manager.copyItem(atPath: source, toPath: target)
            let mode: Int16 = relative.contains("world-readable") ? 0o644 : 0o600
            try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        }
    }
}
