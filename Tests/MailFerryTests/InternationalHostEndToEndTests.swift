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

/// Whether this machine lets the tests give a process its own /etc/hosts: a mount namespace (`unshare -m`, root) with
/// a temporary hosts file bound over it. Nil when it does, else why not.
enum PrivateHostsFile {
    static let unavailable: String? = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["unshare", "-m", "/bin/sh", "-c", "mount --bind /etc/hosts /etc/hosts"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        do {
            try probe.run()
        } catch {
            return "unshare cannot be started: \(error)"
        }
        let deadline = Date().addingTimeInterval(30)
        while probe.isRunning && Date() < deadline { usleep(10_000) }
        if probe.isRunning {
            probe.terminate()
            return "unshare -m did not finish within 30 s"
        }
        return probe.terminationStatus == 0
            ? nil
            : "unshare -m with a bind mount over /etc/hosts is not permitted here (needs root and mount namespaces)"
    }()

    /// Runs `command` with `hosts` lines added to /etc/hosts, in a mount namespace of its own; bounded.
    static func run(_ command: [String], hosts: [String], in folder: TempFolder) throws -> (
        code: Int32, out: String, err: String
    ) {
        let system = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? ""
        let file = folder.file("hosts", system + "\n" + hosts.joined(separator: "\n") + "\n", mode: 0o644)
        let child = try ChildProcess(
            "/usr/bin/unshare",
            ["-m", "/bin/sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"", file] + command,
            environment: ["COLUMNS": "200"])
        return child.finish(within: 120, command.joined(separator: " "))
    }
}

/// A source written as a Unicode host name is reached by its A-label (RFC 5890): DNS looks up
/// "xn--bcher-kva.example" (only /etc/hosts knows it, in a namespace of the test's own), and the certificate, issued
/// for that A-label alone, is matched by it (RFC 6125 §6.4.2). Had the Unicode name gone to DNS or to the name check,
/// `check` would fail.
@Suite(.serialized, .disabled(if: PrivateHostsFile.unavailable != nil, "needs unshare -m and a bind mount (root)"))
struct InternationalHostEndToEndTests {
    @Test func checkReachesAUnicodeHostByItsALabel() throws {
        let server = try FakeServer(
            timeout: 30,
            steps: [
                .startTLS(.international), .send("+OK ready\r\n"),
                .respond([
                    "CAPA": "+OK\r\nUSER\r\nUIDL\r\n.\r\n", "USER u": "+OK\r\n", "PASS pw": "+OK in\r\n",
                    "LIST": "+OK\r\n1 10\r\n.\r\n", "UIDL": "+OK\r\n1 A\r\n.\r\n", "QUIT": "+OK\r\n",
                ]),
            ])
        let folder = TempFolder("idn")
        defer { folder.cleanup() }
        let secret = folder.file("secrets/pw", "pw\n")
        let plan = folder.file(
            "jobs/idn.json5",
            """
            {
              plan: "idn",
              sources: { old: { host: "\(FakeCertificate.internationalName)", port: \(server.port), tls: "implicit",
                                caFile: "\(try FakePKI.shared().caFile)", timeoutSeconds: 10 } },
              targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [ { source: "old", user: "u", password: { file: "\(secret)" }, target: "box",
                             mailbox: "u@contoso.example" } ],
            }
            """)
        let result = try PrivateHostsFile.run(
            [EndToEnd.binary, "check", plan], hosts: ["127.0.0.1 \(FakeCertificate.internationalALabel)"],
            in: folder)
        server.stop()
        server.finish()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(result.out.contains("ok    u@contoso.example"), "\(result.out)")
        #expect(result.out.contains("  old: \(FakeCertificate.internationalName):\(server.port), tls implicit"))
        let fingerprint = try FakePKI.shared().fingerprint(.international)
        #expect(result.out.contains("    tlsFingerprint: \"\(fingerprint)\""), "\(result.out)")
        #expect(server.transcript.securedText.hasPrefix("CAPA\r\nUSER u\r\nPASS pw\r\n"))
    }
}
