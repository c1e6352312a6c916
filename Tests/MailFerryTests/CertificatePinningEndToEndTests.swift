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

/// `tlsFingerprint` through the real binary and a real Dovecot whose certificate no system store trusts (the lab's own
/// CA): pinned, a run delivers without any `caFile`; pinned wrong, the run exits 1 naming both fingerprints; and
/// `check` prints the fingerprint of every TLS connection it made, ready to paste into the plan.
@Suite(.serialized) struct CertificatePinningEndToEndTests {
    /// The lab's server certificate, as `openssl x509 -fingerprint -sha256` gives it.
    static func labFingerprint(_ lab: DovecotLab) throws -> String {
        try FakePKI.fingerprint(ofPEM: lab.caFile.deletingLastPathComponent().appendingPathComponent("server.pem").path)
    }

    @discardableResult
    static func plan(_ ws: CheckTests.Workspace, pin: String, target: String? = nil) -> String {
        ws.plan(
            """
            {
              plan: "check",
              sources: { isp: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit",
                                tlsFingerprint: "\(pin)" } },
              targets: {
                archive: { kind: "maildir", path: "target/{mailbox}" },
                contoso: { kind: "imap", host: "127.0.0.1", port: \(ws.lab.ports.imaps), tls: "implicit",
                           caFile: "\(ws.lab.caFile.path)", tlsFingerprint: "\(pin)",
                           user: "alice", password: { file: "secrets/alice" } },
              },
              mailboxes: [ { source: "isp", user: "alice", password: { file: "secrets/alice" },
                             target: "\(target ?? "archive")", mailbox: "alice@contoso.example" } ],
            }
            """)
    }

    @Test func aPinnedCertificateIsTrustedWithoutACAFile() throws {
        let ws = try CheckTests.Workspace(users: ["alice"], seed: ["alice": 3])
        ws.secret("alice")
        let pin = try Self.labFingerprint(ws.lab)
        let plan = Self.plan(ws, pin: pin)
        let run = try EndToEnd.mailferry(["run", plan])
        #expect(run.code == 0, "\(run.out)\n\(run.err)")
        let delivered =
            (try? FileManager.default.contentsOfDirectory(atPath: ws.path + "/target/alice@contoso.example/new")) ?? []
        #expect(delivered.count == 3, "\(delivered)")

        // The same pin written the other way (lower case, no colons) is the same pin.
        let compact = "sha256:" + pin.dropFirst(7).replacingOccurrences(of: ":", with: "").lowercased()
        Self.plan(ws, pin: compact)
        #expect(try EndToEnd.mailferry(["run", plan]).code == 0)
    }

    @Test func aWrongPinIsRefusedWithBothFingerprints() throws {
        let ws = try CheckTests.Workspace(users: ["alice"], seed: ["alice": 2])
        ws.secret("alice")
        let seen = try Self.labFingerprint(ws.lab)
        let wrong = "sha256:" + Array(repeating: "AB", count: 32).joined(separator: ":")
        let plan = Self.plan(ws, pin: wrong)
        let run = try EndToEnd.mailferry(["run", plan])
        #expect(run.code == 1, "\(run.out)\n\(run.err)")
        let expected =
            "certificate fingerprint mismatch: the plan pins \(wrong), the server presented \(seen); refusing the "
            + "connection"
        #expect((run.out + run.err).contains(expected), "\(run.out)\n\(run.err)")
        let reports = ws.path + "/reports/check"
        let names = try FileManager.default.contentsOfDirectory(atPath: reports).filter { $0.hasSuffix(".md") }
        let report = try String(contentsOfFile: reports + "/" + names.sorted().last!, encoding: .utf8)
        #expect(report.contains(expected), "\(report)")
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: ws.path + "/target/alice@contoso.example/new")) ?? [])
                .isEmpty)
    }

    /// `check` prints the fingerprint it saw, for the source and for the IMAP target, as a line to paste.
    @Test func checkPrintsTheFingerprintOfEveryTLSConnection() throws {
        let ws = try CheckTests.Workspace(users: ["alice"])
        ws.secret("alice")
        let pin = try Self.labFingerprint(ws.lab)
        Self.plan(ws, pin: pin, target: "contoso")
        let result = try ws.check()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        let line = "    tlsFingerprint: \"\(pin)\""
        guard let sources = lines.firstIndex(of: "sources:"), let targets = lines.firstIndex(of: "targets:") else {
            Issue.record("no sources: and targets: blocks in \(result.out)")
            return
        }
        #expect(lines[sources + 1].hasPrefix("  isp: 127.0.0.1:\(ws.lab.ports.pop3s), tls implicit, TLSv1.3"))
        #expect(lines[sources + 2] == line, "\(result.out)")
        #expect(lines[targets + 1] == "  contoso: 127.0.0.1:\(ws.lab.ports.imaps), TLSv1.3", "\(result.out)")
        #expect(lines[targets + 2] == line, "\(result.out)")
        let json = try ws.report()
        #expect(json.report?.mailboxes.first?.source.tlsFingerprint == pin)
        #expect(json.report?.mailboxes.first?.target.tlsFingerprint == pin)
    }

    /// A certificate the plan does not trust: `check` fails the row and its reason carries the fingerprint, so the
    /// admin sees what to pin once the ISP confirmed it.
    @Test func aRefusedCertificateShowsItsFingerprintInCheck() throws {
        let ws = try CheckTests.Workspace(users: ["alice"])
        ws.secret("alice")
        ws.plan(
            """
            {
              plan: "check",
              sources: { isp: { host: "127.0.0.1", port: \(ws.lab.ports.pop3s), tls: "implicit" } },
              targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [ { source: "isp", user: "alice", password: { file: "secrets/alice" }, target: "archive",
                             mailbox: "alice@contoso.example" } ],
            }
            """)
        let result = try ws.check()
        #expect(result.code == 1)
        #expect(
            result.out.contains(
                "certificate verify failed: unable to get local issuer certificate (the server presented the "
                    + "certificate \(try Self.labFingerprint(ws.lab)); if the ISP confirms it is theirs"),
            "\(result.out)")
    }
}
