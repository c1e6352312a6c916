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

/// A whole migration with the protocol trace on (`--verbose` and `--trace FILE`), then every byte mailferry wrote is
/// searched for every secret it used: POP3 passwords sent with SASL PLAIN, CRAM-MD5, APOP and USER/PASS (from the
/// environment, a file and a command), the IMAP master user's password, the SMTP relay's password. Zero hits, in
/// clear or base64, and the files that hold mail or state are private.
@Suite(.serialized) struct SecretHygieneEndToEndTests {
    /// Four people, one per POP3 login method and target kind.
    static let people: [(user: String, source: String, auth: String, target: String)] = [
        ("alice", "pop3s", "plain", "imap"), ("bob", "stls", "cram-md5", "lmtp"),
        ("carol", "pop3s", "apop", "smtp"), ("dave", "stls", "user", "maildir"),
    ]

    @Test func fullMigrationWithTracingLeaksNoSecret() throws {
        let e2e = try EndToEnd(
            "secrets", counts: Dictionary(uniqueKeysWithValues: Self.people.map { ($0.user, 6) }),
            kind: .smtp)
        let lab = e2e.lab
        let ws = e2e.workspace
        let passwordCommand = e2e.folder.file("secrets/carol-command", e2e.users["carol"]! + "\n")
        var mailboxes: [String] = []
        for person in Self.people {
            let secret: String
            switch person.user {
            case "alice": secret = #"{ env: "ALICE_PW" }"#
            case "carol": secret = #"{ command: ["/bin/cat", "\#(passwordCommand)"] }"#
            default:
                let file = e2e.folder.file("secrets/\(person.user)", e2e.users[person.user]! + "\n")
                secret = "{ file: \"\(file)\" }"
            }
            let address = "\(person.user)\(person.target == "maildir" ? "" : "-new")@contoso.example"
            mailboxes.append(
                """
                { source: "\(person.source)-\(person.auth)", user: "\(person.user)", password: \(secret),
                  target: "\(person.target)", mailbox: "\(address)" }
                """)
        }
        let sources = Self.people.map { person in
            let (port, tls) = person.source == "pop3s" ? (lab.ports.pop3s, "implicit") : (lab.ports.pop3, "starttls")
            return """
                "\(person.source)-\(person.auth)": { host: "127.0.0.1", port: \(port), tls: "\(tls)",
                    caFile: "\(lab.caFile.path)", auth: ["\(person.auth)"], timeoutSeconds: 20 }
                """
        }
        let targets = ["imap", "lmtp", "smtp", "maildir"].map { kind in
            "\(kind): "
                + EndToEnd.target(
                    EndToEnd.Kind(rawValue: kind)!, lab: lab, postfix: e2e.postfix,
                    folder: e2e.folder)
        }
        try """
        {
          plan: "e2e",
          sources: { \(sources.joined(separator: ",\n")) },
          targets: { \(targets.joined(separator: ",\n")) },
          mailboxes: [ \(mailboxes.joined(separator: ",\n")) ],
        }
        """.write(toFile: e2e.planFile, atomically: true, encoding: .utf8)

        let tracePath = ws + "/logs/trace.log"
        try FileManager.default.createDirectory(atPath: ws + "/logs", withIntermediateDirectories: true)
        let before = Set(Self.entries(under: ws).map(\.path))
        // Under umask 000, so that every mode checked below is one mailferry chose, not one the umask gave.
        let run = try ChildProcess(
            "/bin/sh",
            [
                "-c", "umask 000 && exec \"$@\"", "sh", EndToEnd.binary, "run",
                e2e.planFile, "--verbose", "--trace", tracePath,
            ],
            environment: ["ALICE_PW": e2e.users["alice"]!]
        ).finish(within: 300, "mailferry run")
        #expect(run.code == 0, "\(run.out)\n\(run.err)")
        e2e.settle()
        #expect(try e2e.lastReport().delivered == 24)

        // The trace is there and shows every login, redacted where it was sent.
        let trace = (try? String(contentsOfFile: tracePath, encoding: .utf8)) ?? ""
        for expected in [
            "alice pop3 127.0.0.1", "C: AUTH PLAIN", "C: AUTH CRAM-MD5", "C: APOP carol <redacted>",
            "C: PASS <redacted>", "AUTHENTICATE PLAIN", "C: AUTH PLAIN <redacted>", "C: STLS",
            "C: RETR 1", "bytes of message data", "S: +OK",
        ] {
            #expect(trace.contains(expected), "the trace has no \(expected)")
        }
        #expect(run.err.contains("C: RETR 1"), "--verbose traces on standard error")

        // Every byte written: output, trace, reports, state (database, WAL, spool, lock), the targets.
        var written: [(String, [UInt8])] = [("stdout", Array(run.out.utf8)), ("stderr", Array(run.err.utf8))]
        let targetMaildirs = Self.people.filter { $0.target != "maildir" }.map {
            lab.maildir(of: "\($0.user)-new").path
        }
        for root in [ws] + targetMaildirs {
            for (path, bytes) in Self.files(under: root) where !path.hasPrefix(ws + "/secrets/") {
                written.append((path, bytes))
            }
        }
        #expect(written.contains { $0.0.hasSuffix("state/e2e.sqlite") })
        #expect(written.contains { $0.0.hasSuffix("trace.log") })
        #expect(written.count > 24 + 6, "\(written.map(\.0))")
        var needles: [String: String] = [:]
        let secrets =
            e2e.users.map { ("\($0.key)'s POP3 password", $0.value) }
            + [("the IMAP master password", DovecotLab.masterPassword), ("the relay password", EndToEnd.relayPassword)]
        for (name, secret) in secrets {
            needles[secret] = name
            for fragment in Self.base64Fragments(of: Array(secret.utf8)) { needles[fragment] = name + " (base64)" }
        }
        for (user, password) in e2e.users {
            needles[Data("\0\(user)\0\(password)".utf8).base64EncodedString()] = "\(user)'s SASL PLAIN blob"
        }
        needles[
            Data("alice-new@contoso.example\0\(DovecotLab.masterUser)\0\(DovecotLab.masterPassword)".utf8)
                .base64EncodedString()] = "the IMAP master PLAIN blob"
        needles[Data("\0\(EndToEnd.relayUser)\0\(EndToEnd.relayPassword)".utf8).base64EncodedString()] =
            "the relay's PLAIN blob"
        var hits: [String] = []
        for (path, bytes) in written {
            for (needle, name) in needles where Self.occurs(Array(needle.utf8), in: bytes) {
                hits.append("\(name) in \(path)")
            }
        }
        #expect(hits.isEmpty, "\(hits)")
        print(
            "secret hygiene: \(needles.count) needles in \(written.count) files and streams, "
                + "\(written.reduce(0) { $0 + $1.1.count }) bytes, trace \(trace.utf8.count) bytes: \(hits.count) hits")

        // Private files: the state database and its WAL/SHM, the lock, the trace, the spool folder.
        for path in [e2e.statePath, e2e.statePath + "-wal", e2e.statePath + "-shm", e2e.statePath + ".lock", tracePath]
        where FileManager.default.fileExists(atPath: path) {
            #expect(Self.mode(path) & 0o077 == 0, "\(path) is \(String(Self.mode(path), radix: 8))")
        }
        let spool = ws + "/state/spool-e2e"
        #expect(Self.mode(spool) & 0o077 == 0, "the spool folder is \(String(Self.mode(spool), radix: 8))")

        // Every file and folder the run created: nothing for others; reports and the dashboard at most 0640 (and
        // their folder 0750), everything else (state, lock, trace, spool, delivered mail) 0600 and 0700.
        let created = Self.entries(under: ws).filter { !before.contains($0.path) }
        #expect(created.contains { $0.path.hasSuffix("/index.html") } && created.contains { $0.path.hasSuffix(".md") })
        #expect(created.contains { $0.path.hasSuffix("/trace.log") } && created.contains { $0.path.hasSuffix(".lock") })
        #expect(created.filter { !$0.isFolder }.count >= 6 + 6, "\(created.map(\.path))")
        var loose: [String] = []
        for entry in created {
            let inReports = entry.path == ws + "/reports" || entry.path.hasPrefix(ws + "/reports/")
            let allowed: mode_t = entry.isFolder ? (inReports ? 0o750 : 0o700) : (inReports ? 0o640 : 0o600)
            if entry.mode & ~allowed != 0 { loose.append("\(entry.path) \(String(entry.mode, radix: 8))") }
        }
        #expect(loose.isEmpty, "more open than allowed: \(loose)")
        print("file modes: \(created.count) files and folders created by the run, \(loose.count) too open")
    }

    /// Every file and folder under `root` (not following links), with its permission bits.
    static func entries(under root: String) -> [(path: String, mode: mode_t, isFolder: Bool)] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [(path: String, mode: mode_t, isFolder: Bool)] = []
        while let relative = walker.nextObject() as? String {
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            guard type == S_IFREG || type == S_IFDIR else { continue }
            found.append((path, info.st_mode & 0o7777, type == S_IFDIR))
        }
        return found
    }

    /// Every regular file under `root`, recursively.
    static func files(under root: String) -> [(String, [UInt8])] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [(String, [UInt8])] = []
        while let relative = walker.nextObject() as? String {
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            found.append((path, [UInt8](data)))
        }
        return found
    }

    /// The base64 characters that depend only on `secret`, for each of the three alignments it can have inside a
    /// longer base64-encoded blob: any encoding of bytes containing the secret contains one of them.
    static func base64Fragments(of secret: [UInt8]) -> [String] {
        (0..<3).compactMap { lead in
            let encoded = Array(Data([UInt8](repeating: 0, count: lead) + secret).base64EncodedString().utf8)
            let start = (lead + 2) / 3 * 4
            let end = (lead + secret.count) / 3 * 4
            return end - start >= 8 ? String(decoding: encoded[start..<end], as: UTF8.self) : nil
        }
    }

    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        while let hit = haystack[index...].firstIndex(of: first) {
            if hit + needle.count > haystack.count { return false }
            if haystack[hit..<(hit + needle.count)].elementsEqual(needle) { return true }
            index = hit + 1
        }
        return false
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0o777
    }
}

/// OAuth tokens through the trace sink `run --trace` uses: POP3 XOAUTH2 and OAUTHBEARER, SMTP XOAUTH2. The trace
/// file shows the exchange, redacted, and holds neither the token nor any base64 form of it.
@Suite struct TokenTraceTests {
    static let token = "ya29.tok-SECRET-\(UUID().uuidString.prefix(8))"

    func expectClean(_ tracePath: String, mechanism: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let trace = (try? String(contentsOfFile: tracePath, encoding: .utf8)) ?? ""
        #expect(
            trace.contains("C: AUTH \(mechanism)") && trace.contains("<redacted>"), "\(trace)",
            sourceLocation: sourceLocation)
        var needles = [Self.token] + SecretHygieneEndToEndTests.base64Fragments(of: Array(Self.token.utf8))
        needles.append(Data("auth=Bearer \(Self.token)".utf8).base64EncodedString())
        for needle in needles {
            #expect(!trace.contains(needle), "\(needle) in the trace", sourceLocation: sourceLocation)
        }
    }

    /// The SASL response a POP3 client owes for a token, base64 as on the wire: XOAUTH2 (user, Bearer token) or
    /// OAUTHBEARER (RFC 7628 §3.1: GS2 header with the user, host, port, Bearer token).
    static func saslPayload(_ mechanism: String, user: String, token: String, port: Int) -> String {
        let text =
            mechanism == "XOAUTH2"
            ? "user=\(user)\u{1}auth=Bearer \(token)\u{1}\u{1}"
            : "n,a=\(user),\u{1}host=127.0.0.1\u{1}port=\(port)\u{1}auth=Bearer \(token)\u{1}\u{1}"
        return Data(text.utf8).base64EncodedString()
    }

    @Test(arguments: ["XOAUTH2", "OAUTHBEARER"])
    func pop3TokenIsRedacted(mechanism: String) throws {
        let folder = TempFolder("token-trace")
        defer { folder.cleanup() }
        let server = try FakeServer(
            .send("+OK fake\r\n"), .expect("CAPA"),
            .send("+OK\r\nSASL \(mechanism)\r\nUIDL\r\n.\r\n"), .expect("AUTH \(mechanism)"),
            .send("+ \r\n"),
            .run { session in
                try session.expect(
                    Self.saslPayload(
                        mechanism, user: "u", token: Self.token,
                        port: session.serverPort))
            },
            .send("+OK welcome\r\n"),
            .respond([
                "CAPA": "+OK\r\nUIDL\r\n.\r\n",
                "QUIT": "+OK bye\r\n",
            ]))
        let trace = try ProtocolTrace(path: folder.path + "/trace", standardError: nil)
        let client = try server.plainClient()
        client.trace = trace.session("isp/u pop3")
        try client.connect()
        let method = POP3AuthMethod(rawValue: mechanism.lowercased())!
        #expect(try client.login(user: "u", credential: .token(Self.token), allowed: [method]) == method)
        client.quit()
        server.finish()
        // The token did go to the server (base64-encoded inside the SASL response): the trace had it to leak.
        #expect(
            SecretHygieneEndToEndTests.base64Fragments(of: Array(Self.token.utf8)).contains {
                server.transcript.contains($0)
            })
        expectClean(folder.path + "/trace", mechanism: mechanism)
    }

    @Test func smtpTokenIsRedacted() throws {
        let folder = TempFolder("token-trace")
        defer { folder.cleanup() }
        let initial = Data("user=relay\u{1}auth=Bearer \(Self.token)\u{1}\u{1}".utf8).base64EncodedString()
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"),
            .send("250-fake\r\n250 AUTH XOAUTH2\r\n"), .expect("AUTH XOAUTH2 \(initial)"),
            .send("235 2.7.0 ok\r\n"), .expect("MAIL FROM:<sender@wingtip.example>"),
            .send("250 ok\r\n"), .expect("RCPT TO:<alice@contoso.example>"),
            .send("250 ok\r\n"), .expect("DATA"), .send("354 go\r\n"),
            .expect("Subject: x"), .expect(""), .expect("hi"), .expect("."),
            .send("250 queued\r\n"), .respond(["QUIT": "221 bye\r\n"]))
        let token = Self.token
        let delivery = MailTransferDelivery(
            settings: MailTransferSettings(
                endpoint: ServerEndpoint(
                    host: "127.0.0.1", port: server.port, tls: .none, allowPlaintext: true,
                    timeout: 3),
                dialect: .smtp, user: "relay", secret: { .token(token) }, defaultSender: "sender@wingtip.example",
                defaultRecipients: ["alice@contoso.example"], clientName: "client.test"))
        let trace = try ProtocolTrace(path: folder.path + "/trace", standardError: nil)
        delivery.trace = trace.session("isp/u relay smtp")
        let spool = try makeSpool(folder, Array("Subject: x\r\n\r\nhi\r\n".utf8))
        #expect(
            try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t", spool: spool,
                    arrival: DeliveryScript.arrival)
            ).complete)
        delivery.close()
        server.finish()
        expectClean(folder.path + "/trace", mechanism: "XOAUTH2")
        #expect(SecretHygieneEndToEndTests.mode(folder.path + "/trace") == 0o600)
    }
}

/// Files that hold mail, state or a trace are private from the start (0600), whatever the umask would give.
@Suite struct PrivateFileTests {
    @Test func stateSpoolAndTraceFilesAre0600() throws {
        let folder = TempFolder("private")
        defer { folder.cleanup() }
        let store = try Store(path: folder.path + "/state.sqlite")
        _ = try store.registerMailbox(key: "isp/u", source: "isp", user: "u", target: "box", address: "u")
        for suffix in ["", "-wal", "-shm"]
        where FileManager.default.fileExists(
            atPath: folder.path + "/state.sqlite"
                + suffix)
        {
            #expect(SecretHygieneEndToEndTests.mode(folder.path + "/state.sqlite" + suffix) == 0o600, "\(suffix)")
        }
        let spool = try SpoolFile(path: folder.path + "/spool.eml")
        defer { spool.discard() }
        #expect(SecretHygieneEndToEndTests.mode(spool.path) == 0o600)
        // An existing, readable trace file is made private when reused.
        let old = folder.file("trace.log", "old\n", mode: 0o644)
        _ = try ProtocolTrace(path: old, standardError: nil)
        #expect(SecretHygieneEndToEndTests.mode(old) == 0o600)
        withExtendedLifetime(store) {}
    }
}
