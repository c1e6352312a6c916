import Foundation
import MailFerryLab
import Testing
@testable import MailFerry

/// A workspace (jobs/, state/, reports/, target Maildirs) wired to a private Dovecot, for end-to-end tests that run
/// the real `mailferry` binary.
final class EndToEnd {
    let folder: TempFolder
    let lab: DovecotLab
    let users: [String: String]
    let planFile: String
    let kind: Kind

    /// Where the migrated mail goes: Maildirs in the workspace, or the lab's own Dovecot over IMAP (the admin
    /// acting for each "<user>-new" account) or LMTP.
    enum Kind: String, Sendable {
        case maildir, imap, lmtp
    }

    /// Starts a lab with `counts[user]` corpus messages per user and writes a plan for them.
    init(_ label: String, counts: [String: Int], bigAttachmentFor: String? = nil, tls: TLSMode = .implicit,
         kind: Kind = .maildir) throws {
        self.kind = kind
        folder = TempFolder(label)
        var users: [String: String] = [:]
        for name in counts.keys { users[name] = "pw-\(name)-\(UUID().uuidString.prefix(6))" }
        self.users = users
        lab = try DovecotLab.start(users: users)
        if kind != .maildir {
            for user in counts.keys { try lab.addUser("\(user)-new", password: "unused-\(UUID().uuidString)") }
        }
        for (index, (user, count)) in counts.sorted(by: { $0.key < $1.key }).enumerated() {
            try lab.seed(user: user, messages: Corpus.mailbox(user: user, domain: "wingtip.example", count: count,
                                                              seed: UInt64(index + 1),
                                                              bigAttachment: user == bigAttachmentFor))
        }
        var mailboxes: [String] = []
        for user in counts.keys.sorted() {
            let secret = folder.file("secrets/\(user)", users[user]! + "\n")
            let address = kind == .maildir ? "\(user)@contoso.example" : "\(user)-new@contoso.example"
            mailboxes.append("""
                { source: "isp", user: "\(user)", password: { file: "\(secret)" }, target: "archive",
                  mailbox: "\(address)" }
                """)
        }
        let port = tls == .implicit ? lab.ports.pop3s : lab.ports.pop3
        planFile = folder.file("jobs/e2e.json5", """
            // written by EndToEnd
            {
              plan: "e2e",
              parallel: 3,
              sources: { isp: { host: "127.0.0.1", port: \(port), tls: "\(tls.rawValue)", caFile: "\(lab.caFile.path)",
                                timeoutSeconds: 20 } },
              targets: { archive: \(EndToEnd.target(kind, lab: lab, folder: folder)) },
              mailboxes: [
                \(mailboxes.joined(separator: ",\n"))
              ],
            }
            """)
    }

    static func target(_ kind: Kind, lab: DovecotLab, folder: TempFolder) -> String {
        switch kind {
        case .maildir:
            return #"{ kind: "maildir", path: "target/{mailbox}" }"#
        case .imap:
            let secret = folder.file("secrets/admin", DovecotLab.masterPassword + "\n")
            return """
                { kind: "imap", host: "127.0.0.1", port: \(lab.ports.imaps), tls: "implicit", caFile: "\(lab.caFile.path)",
                  user: "\(DovecotLab.masterUser)", password: { file: "\(secret)" }, authorize: "{mailbox}",
                  folder: "INBOX" }
                """
        case .lmtp:
            return #"{ kind: "lmtp", host: "127.0.0.1", port: "# + "\(lab.ports.lmtp) }"
        }
    }

    deinit {
        lab.stop()
        folder.cleanup()
    }

    var workspace: String { URL(fileURLWithPath: folder.path).standardizedFileURL.path }
    var statePath: String { workspace + "/state/e2e.sqlite" }
    func maildir(_ user: String) -> String { workspace + "/target/\(user)@contoso.example" }

    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["MAILFERRY_BIN"] { return explicit }
        // The test bundle sits beside the products it was built with.
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("mailferry").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/mailferry").path
    }

    /// Starts `mailferry run` on the plan (not waiting).
    func start(_ extra: [String] = [], environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(Self.binary, ["run", planFile] + extra, environment: environment)
    }

    /// Runs `mailferry run` to the end (bounded) and returns its exit code and output.
    func run(_ extra: [String] = [], environment: [String: String] = [:],
             timeout: Double = 300) throws -> (code: Int32, out: String, err: String) {
        let child = try start(extra, environment: environment)
        defer { child.removeOutput() }
        guard let code = child.wait(timeout: timeout) else {
            child.kill9()
            Issue.record("mailferry did not finish within \(timeout) s: \(child.stdout) \(child.stderr)")
            return (-1, child.stdout, child.stderr)
        }
        return (code, child.stdout, child.stderr)
    }

    /// Every message the server has for `user`, by UIDL, as RETR returns it (dot-unstuffed).
    func serverMessages(_ user: String) throws -> [String: [UInt8]] {
        let client = POP3Client(endpoint: POP3Endpoint(host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
                                                       tlsSettings: TLSSettings(caFile: lab.caFile.path)))
        defer { client.quit() }
        try client.connect()
        try client.login(user: user, password: users[user]!)
        var result: [String: [UInt8]] = [:]
        for entry in try client.listing() {
            var bytes: [UInt8] = []
            try client.retrieve(entry.number) { bytes.append(contentsOf: $0) }
            result[entry.uidl] = bytes
        }
        return result
    }

    /// The Maildir that ends up holding the user's migrated mail.
    func targetMaildir(_ user: String) -> String {
        kind == .maildir ? maildir(user) : lab.maildir(of: "\(user)-new").path
    }

    /// Files in the user's target Maildir (new/ and cur/), by name.
    func deliveredFiles(_ user: String) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for sub in ["new", "cur"] {
            let dir = targetMaildir(user) + "/" + sub
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                files["\(sub)/\(name)"] = [UInt8](FileManager.default.contents(atPath: "\(dir)/\(name)") ?? Data())
            }
        }
        return files
    }

    func deliveredCount() -> Int {
        users.keys.reduce(0) { total, user in
            total + ["new", "cur"].reduce(0) {
                $0 + ((try? FileManager.default.contentsOfDirectory(atPath: targetMaildir(user) + "/" + $1))?.count
                      ?? 0)
            }
        }
    }

    struct Row {
        var uidl: String
        var state: String
        var ref: String?
        var sha256: String?
        var size: Int
    }

    /// The store's rows for one mailbox.
    func rows(_ user: String) throws -> [Row] {
        let db = try Database(path: statePath)
        return try db.prepare("""
            SELECT m.uidl, m.state, m.target_ref, m.sha256, coalesce(m.size, -1) FROM messages m
            JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.key = ?
            """).rows([.text("isp/\(user)")]) {
            Row(uidl: $0.text(0) ?? "", state: $0.text(1) ?? "", ref: $0.text(2), sha256: $0.text(3),
                size: Int($0.int(4)))
        }
    }

    /// Whether `prefix` is whole header lines a delivering server adds (Return-Path, Delivered-To, Received).
    static func onlyTraceHeaders(_ prefix: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: prefix, as: UTF8.self)
        guard text.isEmpty || text.hasSuffix("\n") else { return false }
        return text.split(separator: "\n").allSatisfy { line in
            line.hasPrefix(" ") || line.hasPrefix("\t") || line.hasPrefix("Return-Path:")
                || line.hasPrefix("Delivered-To:") || line.hasPrefix("Received:")
        }
    }

    static func lfOnly(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() where !(byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10) {
            out.append(byte)
        }
        return out
    }

    /// The newest run report.
    func lastReport() throws -> RunSummary {
        let folder = workspace + "/reports/e2e"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted()
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + names.last!))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(RunSummary.self, from: data)
    }

    /// The promise: every message on the server is in its Maildir exactly once, byte for byte, and the store says
    /// delivered with the right reference and hash.
    func expectExactlyOnce(_ user: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let server = try serverMessages(user)
        let files = deliveredFiles(user)
        let rows = try rows(user)
        #expect(files.count == server.count, "\(user): \(files.count) files for \(server.count) messages",
                sourceLocation: sourceLocation)
        #expect(rows.count == server.count, sourceLocation: sourceLocation)
        if kind != .maildir {
            // Dovecot stores what IMAP or LMTP gave it with LF line ends; a bare CR stays.
            for row in rows {
                #expect(row.state == "delivered", "\(user) \(row.uidl): state \(row.state)", sourceLocation: sourceLocation)
                #expect(row.sha256 == server[row.uidl].map { SHA256Hasher.hex($0) }, sourceLocation: sourceLocation)
            }
            var expected = server.values.map(EndToEnd.lfOnly)
            var unmatched = 0
            for stored in files.values {
                // LMTP delivery adds the receiving server's own trace headers on top; the message itself follows
                // unchanged. IMAP APPEND stores exactly what was sent.
                let match = expected.firstIndex { kind == .lmtp ? stored.ends(with: $0) && EndToEnd.onlyTraceHeaders(
                    stored.dropLast($0.count)) : stored == $0 }
                if let match { expected.remove(at: match) } else { unmatched += 1 }
            }
            #expect(unmatched == 0 && expected.isEmpty,
                    "\(user): \(unmatched) stored messages differ from RETR (CRLF as LF), \(expected.count) missing",
                    sourceLocation: sourceLocation)
            return
        }
        var referenced = Set<String>()
        for row in rows {
            guard let expected = server[row.uidl] else {
                Issue.record("\(user): row for unknown UIDL \(row.uidl)", sourceLocation: sourceLocation)
                continue
            }
            #expect(row.state == "delivered", "\(user) \(row.uidl): state \(row.state)", sourceLocation: sourceLocation)
            guard let ref = row.ref, let stored = files[ref] else {
                Issue.record("\(user) \(row.uidl): no file for ref \(row.ref ?? "nil")", sourceLocation: sourceLocation)
                continue
            }
            referenced.insert(ref)
            let identical = stored == expected  // (not inside #expect: it would print megabytes on failure)
            #expect(identical, "\(user) \(row.uidl): delivered bytes differ from RETR",
                    sourceLocation: sourceLocation)
            #expect(row.sha256 == SHA256Hasher.hex(expected), sourceLocation: sourceLocation)
            #expect(row.size == expected.count, sourceLocation: sourceLocation)
        }
        let unreferenced = Set(files.keys).subtracting(referenced).sorted()
        #expect(unreferenced.isEmpty, "\(user): files not referenced by the store: \(unreferenced.prefix(5))",
                sourceLocation: sourceLocation)
    }
}
