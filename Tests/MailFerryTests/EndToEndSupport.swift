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

/// How many files a Maildir holds in new/ and cur/ (none read; a missing folder holds none).
func maildirFileCount(_ maildir: String) -> Int {
    ["new", "cur"].reduce(0) {
        $0 + ((try? FileManager.default.contentsOfDirectory(atPath: maildir + "/" + $1))?.count ?? 0)
    }
}

/// A workspace (jobs/, state/, reports/, target Maildirs) wired to a private Dovecot, for end-to-end tests that run
/// the real `mailferry` binary.
final class EndToEnd {
    let folder: TempFolder
    let lab: DovecotLab
    /// The relay of `.smtp` runs: a private Postfix that hands everything to `lab` over LMTP.
    let postfix: PostfixLab?
    let users: [String: String]
    let planFile: String
    let kind: Kind

    /// Where the migrated mail goes: Maildirs in the workspace, or the lab's own Dovecot over IMAP (the admin
    /// acting for each "<user>-new" account) or LMTP, or through a private Postfix (SMTP with STARTTLS and AUTH)
    /// that relays into that Dovecot over LMTP.
    enum Kind: String, Sendable {
        case maildir, imap, lmtp, smtp
    }

    /// The SMTP AUTH login of `.smtp` runs (Postfix asks its own Dovecot auth service).
    static let relayUser = "relay"
    static let relayPassword = "relay-secret"

    /// Starts a lab with `counts[user]` corpus messages per user and writes a plan for them.
    ///
    /// - Parameters:
    ///   - quota: start Dovecot with the quota plugin (`lab.setQuota` then limits a "<user>-new" account).
    ///   - refusing: addresses the Postfix relay refuses at RCPT by policy (`.smtp` only).
    init(
        _ label: String, counts: [String: Int], bigAttachmentFor: String? = nil, tls: TLSMode = .implicit,
        kind: Kind = .maildir, quota: Bool = false, refusing: [String] = []
    ) throws {
        self.kind = kind
        folder = TempFolder(label)
        var users: [String: String] = [:]
        for name in counts.keys { users[name] = "pw-\(name)-\(UUID().uuidString.prefix(6))" }
        self.users = users
        lab = try DovecotLab.start(users: users, quota: quota)
        if kind != .maildir {
            for user in counts.keys { try lab.addUser("\(user)-new", password: "unused-\(UUID().uuidString)") }
        }
        if kind == .smtp {
            do {
                postfix = try PostfixLab.start(
                    relayingTo: lab,
                    recipients: counts.keys.sorted().map { "\($0)-new@contoso.example" },
                    saslUsers: [Self.relayUser: Self.relayPassword], requireAuth: true,
                    refusing: refusing)
            } catch {
                lab.stop()
                throw error
            }
        } else {
            postfix = nil
        }
        for (index, (user, count)) in counts.sorted(by: { $0.key < $1.key }).enumerated() {
            try lab.seed(
                user: user,
                messages: Corpus.mailbox(
                    user: user, domain: "wingtip.example", count: count,
                    seed: UInt64(index + 1),
                    bigAttachment: user == bigAttachmentFor))
        }
        var mailboxes: [String] = []
        for user in counts.keys.sorted() {
            let secret = folder.file("secrets/\(user)", users[user]! + "\n")
            let address = kind == .maildir ? "\(user)@contoso.example" : "\(user)-new@contoso.example"
            mailboxes.append(
                """
                { source: "isp", user: "\(user)", password: { file: "\(secret)" }, target: "archive",
                  mailbox: "\(address)" }
                """)
        }
        let port = tls == .implicit ? lab.ports.pop3s : lab.ports.pop3
        planFile = folder.file(
            "jobs/e2e.json5",
            """
            // written by EndToEnd
            {
              plan: "e2e",
              parallel: 3,
              sources: { isp: { host: "127.0.0.1", port: \(port), tls: "\(tls.rawValue)", caFile: "\(lab.caFile.path)",
                                timeoutSeconds: 20 } },
              targets: { archive: \(EndToEnd.target(kind, lab: lab, postfix: postfix, folder: folder)) },
              mailboxes: [
                \(mailboxes.joined(separator: ",\n"))
              ],
            }
            """)
    }

    static func target(_ kind: Kind, lab: DovecotLab, postfix: PostfixLab? = nil, folder: TempFolder) -> String {
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
        case .smtp:
            guard let postfix else { return #"{ kind: "smtp" }"# }
            let secret = folder.file("secrets/relay", relayPassword + "\n")
            return """
                { kind: "smtp", host: "127.0.0.1", port: \(postfix.ports.smtp), tls: "starttls",
                  caFile: "\(postfix.caFile.path)", user: "\(relayUser)", password: { file: "\(secret)" }, from: "" }
                """
        }
    }

    deinit {
        try? postfix?.destroy()
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
    func run(
        _ extra: [String] = [], environment: [String: String] = [:],
        timeout: Double = 300
    ) throws -> (code: Int32, out: String, err: String) {
        try start(extra, environment: environment).finish(within: timeout, "mailferry run")
    }

    /// Every message the server has for `user`, by UIDL, as RETR returns it (dot-unstuffed).
    func serverMessages(_ user: String) throws -> [String: [UInt8]] {
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: lab.ports.pop3s, tls: .implicit,
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

    /// How many messages the user's target holds once the server has finished what a killed run left on the wire
    /// (pipelined APPENDs whose literal was sent are stored after the client is gone): read once Dovecot's log shows
    /// every IMAP session of the user's ended, and after the count has held still for 0.1 s. (If the log does not
    /// show a session's end within 10 s, the log is printed and a standstill of 0.3 s decides alone.)
    func settledDeliveredCount(_ user: String) -> Int {
        let mailbox = "\(user)-new"
        let deadline = Date().addingTimeInterval(10)
        while lab.openIMAPSessions(of: mailbox) > 0 && Date() < deadline { usleep(20_000) }
        let ended = lab.openIMAPSessions(of: mailbox) == 0
        if !ended {
            print(
                "settledDeliveredCount: Dovecot's log shows a session of \(mailbox) open after 10 s\n"
                    + lab.logTail(lines: 60))
        }
        var last = deliveredCount(user)
        for _ in 0..<(ended ? 50 : 17) {
            usleep(ended ? 100_000 : 300_000)
            let now = deliveredCount(user)
            if now == last { return now }
            last = now
        }
        return last
    }

    func deliveredCount() -> Int {
        users.keys.reduce(0) { $0 + deliveredCount($1) }
    }

    /// How many files the user's target Maildir holds in new/ and cur/ (cheap: nothing is read).
    func deliveredCount(_ user: String) -> Int {
        maildirFileCount(targetMaildir(user))
    }

    struct Row {
        var uidl: String
        var state: String
        var ref: String?
        var sha256: String?
        var size: Int
    }

    /// The store's rows for one mailbox (in the plan's state file, or in `state`: a shard's).
    func rows(_ user: String, state: String? = nil) throws -> [Row] {
        let db = try Database(path: state ?? statePath)
        return try db.prepare(
            """
            SELECT m.uidl, m.state, m.target_ref, m.sha256, coalesce(m.size, -1) FROM messages m
            JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.key = ?
            """
        ).rows([.text("isp/\(user)")]) {
            Row(
                uidl: $0.text(0) ?? "", state: $0.text(1) ?? "", ref: $0.text(2), sha256: $0.text(3),
                size: Int($0.int(4)))
        }
    }

    /// The header fields at the top of `bytes` (LF line ends), each with its continuation lines and final LF.
    static func headerFields(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var fields: [ArraySlice<UInt8>] = []
        var index = bytes.startIndex
        while index < bytes.endIndex && bytes[index] != 10 {
            var end = index
            repeat {
                guard let lf = bytes[end...].firstIndex(of: 10) else { return fields + [bytes[index...]] }
                end = lf + 1
            } while end < bytes.endIndex && (bytes[end] == 32 || bytes[end] == 9)
            fields.append(bytes[index..<end])
            index = end
        }
        return fields
    }

    static func fieldName(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 58 }, as: UTF8.self).lowercased()
    }

    /// What the Postfix relay makes of a message (LF line ends) before Dovecot stores it:
    /// - cleanup drops every Return-Path field of the header (`message_drop_headers`: the final delivery agent writes
    ///   its own from the envelope);
    /// - its LMTP client breaks each line longer than 998 bytes (`lmtp_line_length_limit`, RFC 5321 §4.5.3.1.6) into
    ///   998 bytes, then pieces of a space and 997 bytes ("breaking line > 998 bytes with <CR><LF>SPACE").
    /// A Message-Id field cleanup adds to a message that has none is checked by the caller (its value is Postfix's).
    static func throughPostfix(_ message: [UInt8]) -> [UInt8] {
        let fields = headerFields(message[...])
        let headerEnd = fields.last?.endIndex ?? 0
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 500)
        for field in fields where fieldName(field) != "return-path" { out += field }
        var lineStart = headerEnd
        let limit = 998
        while lineStart < message.count {
            let lf = message[lineStart...].firstIndex(of: 10) ?? message.count
            var line = message[lineStart..<lf]
            out += line.prefix(limit)
            line = line.dropFirst(limit)
            while !line.isEmpty {
                out += [10, 32]
                out += line.prefix(limit - 1)
                line = line.dropFirst(limit - 1)
            }
            if lf < message.count { out.append(10) }
            lineStart = lf + 1
        }
        return out
    }

    /// `expectExactlyOnce` for IMAP, LMTP and SMTP targets, whose messages Dovecot stores in the "<user>-new"
    /// account's Maildir with LF line ends (a bare CR stays). What may differ from the RETR bytes (CRLF as LF):
    /// - IMAP APPEND: nothing.
    /// - LMTP into Dovecot: exactly three fields on top, Dovecot's own trace: `Return-Path: <recovered sender>`,
    ///   `Delivered-To: <user>-new@contoso.example` (the RCPT TO) and
    ///   `Received: from <LHLO name> ([127.0.0.1]) by <host> with LMTP id <id> (envelope-from <recovered sender>)
    ///   for <<user>-new@contoso.example>; <date>` (folded over five lines).
    /// - SMTP through Postfix into Dovecot over LMTP: those three Dovecot fields (the sender and recipient being what
    ///   mailferry said in MAIL FROM and RCPT TO, which Postfix passes on; the sender is the plan's `from`, ""),
    ///   then one field by Postfix:
    ///   `Received: from <EHLO name> (localhost [127.0.0.1]) by mx.postfix-lab.example (Postfix) with ESMTPSA id
    ///   <queue id> for <<user>-new@contoso.example>; <date>`; below them the message as `throughPostfix` describes
    ///   (its Return-Path fields dropped, lines over 998 bytes broken) and, if it had no Message-ID, a
    ///   `Message-Id: <…@mx.postfix-lab.example>` field appended to its header (cleanup adds a missing Message-ID
    ///   for clients in `local_header_rewrite_clients`, which by default covers 127.0.0.1).
    private func expectStoredOnServer(
        _ user: String, server: [String: [UInt8]], files: [String: [UInt8]],
        rows: [Row], sourceLocation: SourceLocation
    ) throws {
        for row in rows {
            #expect(row.state == "delivered", "\(user) \(row.uidl): state \(row.state)", sourceLocation: sourceLocation)
            #expect(row.sha256 == server[row.uidl].map { SHA256Hasher.hex($0) }, sourceLocation: sourceLocation)
        }
        let envelopes = try envelopes(user)
        let mailbox = "\(user)-new@contoso.example"
        // The message part of what Dovecot stores, by its bytes → the UIDLs it may be.
        var expected: [[UInt8]: [String]] = [:]
        var hasMessageID: [String: Bool] = [:]
        for (uidl, bytes) in server {
            let lf = EndToEnd.lfOnly(bytes)
            hasMessageID[uidl] = EndToEnd.headerFields(lf[...]).contains { EndToEnd.fieldName($0) == "message-id" }
            expected[kind == .smtp ? EndToEnd.throughPostfix(lf) : lf, default: []].append(uidl)
        }
        var problems: [String] = []
        var matched = 0
        let traceCount = [EndToEnd.Kind.lmtp: 3, .smtp: 4][kind] ?? 0
        for (name, stored) in files.sorted(by: { $0.key < $1.key }) {
            let fields = EndToEnd.headerFields(stored[...])
            guard fields.count > traceCount else {
                problems.append("\(name): only \(fields.count) header fields")
                continue
            }
            let trace = fields.prefix(traceCount).map { String(decoding: $0, as: UTF8.self) }
            var message = Array(stored[(traceCount == 0 ? 0 : fields[traceCount - 1].endIndex)...])
            var addedMessageID = false
            if kind == .smtp, let added = EndToEnd.headerFields(message[...]).last,
                EndToEnd.fieldName(added) == "message-id",
                String(decoding: added, as: UTF8.self).hasSuffix("@mx.postfix-lab.example>\n")
            {
                message.removeSubrange(added.startIndex..<added.endIndex)
                addedMessageID = true
            }
            guard let uidl = expected[message]?.popLast() else {
                problems.append("\(name): matches no message on the server")
                continue
            }
            if expected[message]?.isEmpty == true { expected[message] = nil }
            matched += 1
            if addedMessageID && hasMessageID[uidl] == true {
                problems.append("\(name): Postfix added a Message-Id though \(uidl) had one")
            }
            guard traceCount > 0 else { continue }
            // The envelope Dovecot was given: for LMTP the recovered sender ("" when none, the plan's `from`), for
            // SMTP the plan's `from` ("", envelopeFrom's default "plan" for smtp), and the mailbox address.
            let sender = kind == .smtp ? "" : envelopes[uidl]?.sender ?? ""
            let traceNames = fields.prefix(traceCount).map(EndToEnd.fieldName)
            let wantNames = ["return-path", "delivered-to", "received", "received"].prefix(traceCount)
            if traceNames != Array(wantNames) { problems.append("\(name): trace fields \(traceNames)") }
            if trace[0] != "Return-Path: <\(sender)>\n" { problems.append("\(name): \(trace[0]) for sender \(sender)") }
            if trace[1] != "Delivered-To: \(mailbox)\n" { problems.append("\(name): \(trace[1])") }
            if !trace[2].contains("with LMTP") || !trace[2].contains("(envelope-from <\(sender)>)")
                || !trace[2].contains("for <\(mailbox)>;")
            {
                problems.append("\(name): Dovecot's Received is \(trace[2])")
            }
            if kind == .smtp
                && (!trace[3].contains("by mx.postfix-lab.example (Postfix) with ESMTPSA id ")
                    || !trace[3].contains("for <\(mailbox)>;"))
            {
                problems.append("\(name): Postfix's Received is \(trace[3])")
            }
        }
        #expect(
            files.count == server.count && matched == server.count && problems.isEmpty,
            "\(user): \(files.count) stored, \(matched) of \(server.count) matched: \(problems.prefix(5))",
            sourceLocation: sourceLocation)
    }

    static func lfOnly(_ bytes: [UInt8]) -> [UInt8] {
        DovecotLab.stored(bytes)
    }

    /// The newest run report.
    func lastReport() throws -> RunSummary {
        let folder = workspace + "/reports/e2e"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
            .sorted()
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + names.last!))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(RunSummary.self, from: data)
    }

    /// Time passing beyond the IMAP target's `settleSeconds` (design.md, "IMAP in doubt"), without the wait: once
    /// Dovecot has finished the killed runs' sessions of `users` (so what they sent is stored), every attempt held in
    /// doubt has its hold moved back, as if the first run that found it in doubt had been long ago.
    func pastSettleWindow(_ users: [String]) throws {
        for user in users { _ = settledDeliveredCount(user) }
        try Database(path: statePath).execute("UPDATE messages SET next_try_at = 0 WHERE state = 'delivering'")
    }

    /// A rerun right after a crash and, when it held attempts in doubt at the IMAP target (it must, for those not in
    /// the folder yet: the server may still be storing them), a run after the settle window (`pastSettleWindow`).
    /// The first ends with exit 1 and says why, and has put nothing in a folder twice. Returns the last run and
    /// what the two runs reconciled and delivered together.
    func rerunThroughSettleWindow(_ users: [String], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (code: Int32, out: String, err: String, reconciled: Int, delivered: Int, held: Int)
    {
        let first = try run()
        let report = try lastReport()
        guard report.leftInDoubt > 0 else {
            return (first.code, first.out, first.err, report.reconciled, report.delivered, 0)
        }
        #expect(
            first.code == 1 && first.out.contains("in doubt at the IMAP target, left for a later run so"),
            "\(first.out)\n\(first.err)", sourceLocation: sourceLocation)
        for user in users { expectNothingTwice(user, sourceLocation: sourceLocation) }
        try pastSettleWindow(users)
        let last = try run()
        let after = try lastReport()
        return (
            last.code, last.out, last.err, report.reconciled + after.reconciled, report.delivered + after.delivered,
            report.leftInDoubt
        )
    }

    /// No message is in the user's target folder twice (whatever is still missing).
    func expectNothingTwice(_ user: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let files = deliveredFiles(user)
        let different = Set(files.values).count
        #expect(
            different == files.count, "\(user): \(files.count) files, \(different) different",
            sourceLocation: sourceLocation)
    }

    /// Waits (bounded) until the Postfix relay of an `.smtp` run has handed everything to Dovecot.
    func settle(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let postfix else { return }
        #expect(
            postfix.waitForEmptyQueue(timeout: 60), "postfix queue not empty:\n\(postfix.logTail())",
            sourceLocation: sourceLocation)
    }

    /// The recovered envelope the store keeps for each of the user's messages, by UIDL.
    func envelopes(_ user: String) throws -> [String: RecoveredEnvelope] {
        let db = try Database(path: statePath)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var result: [String: RecoveredEnvelope] = [:]
        for (uidl, json) in try db.prepare(
            """
            SELECT m.uidl, m.envelope FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
            WHERE b.key = ? AND m.envelope IS NOT NULL
            """
        ).rows([.text("isp/\(user)")], { ($0.text(0) ?? "", $0.text(1) ?? "") }) {
            result[uidl] = try? decoder.decode(StoredEnvelope.self, from: Data(json.utf8)).envelope
        }
        return result
    }

    /// The promise: every message on the server is in its Maildir exactly once, byte for byte, and the store says
    /// delivered with the right reference and hash.
    func expectExactlyOnce(
        _ user: String, state: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        settle(sourceLocation: sourceLocation)
        let server = try serverMessages(user)
        let files = deliveredFiles(user)
        let rows = try rows(user, state: state)
        #expect(
            files.count == server.count, "\(user): \(files.count) files for \(server.count) messages",
            sourceLocation: sourceLocation)
        #expect(rows.count == server.count, sourceLocation: sourceLocation)
        if kind != .maildir {
            try expectStoredOnServer(user, server: server, files: files, rows: rows, sourceLocation: sourceLocation)
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
            #expect(
                identical, "\(user) \(row.uidl): delivered bytes differ from RETR",
                sourceLocation: sourceLocation)
            #expect(row.sha256 == SHA256Hasher.hex(expected), sourceLocation: sourceLocation)
            #expect(row.size == expected.count, sourceLocation: sourceLocation)
        }
        let unreferenced = Set(files.keys).subtracting(referenced).sorted()
        #expect(
            unreferenced.isEmpty, "\(user): files not referenced by the store: \(unreferenced.prefix(5))",
            sourceLocation: sourceLocation)
    }
}
