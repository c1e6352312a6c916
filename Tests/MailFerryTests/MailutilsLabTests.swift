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

/// mailferry's POP3 client against a second real server: GNU Mailutils pop3d (Debian's mailutils-pop3d), which
/// stores mail in mbox and behaves differently from Dovecot in UIDLs, sizes, APOP and what it does to messages.
/// `MailutilsLab.notes` lists what is measured here. Serialized: each test starts its own server.
@Suite(.serialized) struct MailutilsLabTests {
    /// Every command and reply line of a client session (credentials already redacted by the client).
    final class Transcript: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [String] = []
        func append(_ line: String) { lock.withLock { storage.append(line) } }
        var lines: [String] { lock.withLock { storage } }

        /// The reply lines of the n-th CAPA (0-based), without the status line and the terminator.
        func capa(_ index: Int) -> [String] {
            var found = -1
            var result: [String] = []
            var inside = false
            for line in lines {
                if line == "C: CAPA" {
                    found += 1
                    inside = found == index
                    result = []
                    continue
                }
                guard inside, line.hasPrefix("S: ") else { continue }
                let text = String(line.dropFirst(3))
                if text.hasPrefix("+OK") || text.hasPrefix("-ERR") { continue }
                if text == "." { return result }
                result.append(text)
            }
            return result
        }
    }

    private func client(_ lab: MailutilsLab, _ tls: TLSMode, transcript: Transcript? = nil) -> POP3Client {
        let port = tls == .implicit ? lab.tlsPort! : lab.port
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: port, tls: tls, tlsSettings: TLSSettings(caFile: lab.caFile.path),
                allowPlaintext: tls == .none, timeout: 20))
        if let transcript {
            client.trace = { transcript.append($0) }
        }
        return client
    }

    /// RETR `number`; with `upcoming`, the client pipelines those RETRs (pop3d announces PIPELINING).
    private func fetch(_ client: POP3Client, _ number: Int, upcoming: ArraySlice<Int> = []) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try client.retrieve(number, upcoming: upcoming) { chunk in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Where two byte strings first differ, for readable failures.
    private func difference(_ got: [UInt8], _ expected: [UInt8]) -> String {
        let index =
            zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(got.count, expected.count)
        let around = { (bytes: [UInt8]) in
            sanitizeForDisplay(bytes[max(0, index - 40)..<min(bytes.count, index + 40)])
        }
        return "sizes \(got.count) vs \(expected.count), first difference at \(index): got \"\(around(got))\", "
            + "expected \"\(around(expected))\""
    }

    private func hasFromLines(_ message: [UInt8]) -> Bool {
        message.split(separator: 0x0A, omittingEmptySubsequences: false).contains { line in
            line.drop { $0 == UInt8(ascii: ">") }.starts(with: Array("From ".utf8))
        }
    }

    private func seconds(since start: Date) -> String {
        String(format: "%.3f s", Date().timeIntervalSince(start))
    }

    /// "<32 lower-case hex>.<uidvalidity>.<number>".
    private func hasMailutilsUIDLShape(_ uidl: String) -> Bool {
        let parts = uidl.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[0].count == 32 && parts[0].allSatisfy { $0.isHexDigit && !$0.isUppercase }
            && parts[1...].allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    @Test func corpusRoundTripsOverSTLSWithOnlyTheDocumentedChanges() throws {
        let started = Date()
        let lab = try MailutilsLab.start(users: ["alice": "pw-alice-1"])
        let startTime = seconds(since: started)
        defer { try? lab.destroy() }
        let messages = Corpus.mailbox(
            user: "alice", domain: "wingtip.example", count: 20, seed: 11,
            bigAttachment: true)
        try lab.seed(user: "alice", messages: messages)

        let transcript = Transcript()
        let pop = client(lab, .starttls, transcript: transcript)
        try pop.connect()
        #expect(pop.tlsInfo != nil)
        try pop.login(user: lab.login(of: "alice"), password: "pw-alice-1")
        try pop.refreshCapabilitiesAfterLogin()
        // The greeting's timestamp lets the client choose APOP, which works here: this lab has the APOP database.
        let method = transcript.lines.contains { $0.hasPrefix("C: APOP ") } ? "APOP" : "USER/PASS"

        let entries = try pop.listing()
        #expect(entries.count == 20)
        #expect(entries.map(\.number) == Array(1...20))
        #expect(Set(entries.map(\.uidl)).count == 20)
        for entry in entries {
            #expect(hasMailutilsUIDLShape(entry.uidl), "UIDL \(entry.uidl)")
        }
        #expect(entries.map { $0.uidl.split(separator: ".").last.map(String.init) } == (1...20).map { String($0) })

        var reserialized = 0
        var listDifferences: Set<Int> = []
        for (entry, seeded) in zip(entries, messages) {
            let got = try fetch(pop, entry.number)
            let expected = MailutilsLab.retrieved(seeded, uidl: entry.uidl)
            #expect(got == expected, "message \(entry.number): \(difference(got, expected))")
            // LIST came before UIDL (the client's order), so LIST counts everything but the X-UIDL line.
            #expect(entry.size == MailutilsLab.retrieved(seeded, uidl: nil).count, "LIST \(entry.number)")
            listDifferences.insert(got.count - entry.size)
            #expect(got.count - entry.size == "X-UIDL: \(entry.uidl)\r\n".utf8.count)
            if MailutilsLab.retrieved(seeded, uidl: nil) != crlf(seeded) {
                reserialized += 1
            }
        }
        // LIST again after RETR, in this first session on a fresh mbox: now with the X-UIDL line, so equal to RETR,
        // except for messages with (quoted) "From " lines, whose sizes drift upwards with every LIST.
        let again = try pop.listing()
        let third = try pop.listing()
        #expect(again.map(\.uidl) == entries.map(\.uidl))
        var drift: [String] = []
        var withFromLines = 0
        for (index, entry) in entries.enumerated() {
            let retrieved = MailutilsLab.retrieved(messages[index], uidl: entry.uidl).count
            let fromLines = hasFromLines(messages[index])
            if fromLines {
                withFromLines += 1
                // The README's interop matrix: the size grows with every LIST after the RETR.
                #expect(
                    retrieved < again[index].size && again[index].size < third[index].size,
                    "LIST \(entry.number): RETR \(retrieved), LIST \(again[index].size) then \(third[index].size)")
                if again[index].size != retrieved {
                    drift.append(
                        "#\(entry.number) RETR \(retrieved), LIST \(again[index].size) then \(third[index].size)")
                }
            } else {
                #expect(again[index].size == retrieved && third[index].size == retrieved, "LIST \(entry.number)")
            }
        }
        #expect(withFromLines > 0, "the corpus has no message with a \"From \" line: nothing shows the drift")
        // Corpus messages have well-formed headers: re-serialization changes nothing in them beyond CRLF.
        #expect(reserialized == 0)
        let capaLines = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "EXPIRENEVER", "USER"]
        #expect(transcript.capa(0) == capaLines + ["STLS"])
        #expect(transcript.capa(1) == capaLines)
        #expect(transcript.capa(2).dropLast() == capaLines[...])
        #expect(transcript.capa(2).last?.hasPrefix("IMPLEMENTATION GNU Mailutils ") == true, "\(transcript.capa(2))")
        let driftText = drift.isEmpty ? "no drift" : drift.joined(separator: "; ")
        let tls = pop.tlsInfo.map { "\($0.version) \($0.cipher)" } ?? "none"
        pop.quit()

        let stopped = Date()
        lab.stop()
        #expect(!lab.isRunning)
        print(
            """
            mailutils: \(lab.serverVersion); start \(startTime), stop \(seconds(since: stopped))
            mailutils: greeting \(pop.greeting); login(user:password:) used \(method)
            mailutils: CAPA before STLS: \(transcript.capa(0).joined(separator: " | "))
            mailutils: CAPA after STLS: \(transcript.capa(1).joined(separator: " | "))
            mailutils: CAPA after login: \(transcript.capa(2).joined(separator: " | "))
            mailutils: TLS \(tls)
            mailutils: LIST after RETR, messages with From lines (first session): \(driftText)
            mailutils: UIDL example \(entries[0].uidl); RETR - LIST = \(listDifferences.sorted()) bytes (X-UIDL line)
            mailutils: \(reserialized) of 20 corpus messages come back with a re-serialized header beyond CRLF
            """)
    }

    /// Hand-made messages for each rule of `MailutilsLab.retrieved`: the model must match the server byte for byte.
    @Test func edgeCasesMatchTheModelOfWhatPop3dChanges() throws {
        let lab = try MailutilsLab.start(users: ["frank": "pw-frank-6"])
        defer { try? lab.destroy() }
        let messages: [[UInt8]] = [
            Array("Subject:nospace\r\nX-Before : colon\r\nX-Fold:\r\n\tnext line\r\nNo colon here\r\nX-Empty:\r\n".utf8)
                + Array("X-Trailing: value   \r\n\r\nbody\r\n>From once\r\n>>From twice\r\nFrom plain\r\n".utf8)
                + Array(".\r\n..dots\r\nlone\rcr\r\nnul\0byte\r\n".utf8),
            Array("Subject: lf only\n\nno final newline".utf8),
            Array("Subject: header only\r\n".utf8),
            Array("\r\nno header at all\r\n".utf8),
            Array("Subject: long and 8-bit\n\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 20_000)
                + [0x0A, 0xFF, 0xFE, 0x20, 0xE9, 0x0A],
            Array("Subject: ends in empty lines\n\nbody\n\n\n".utf8),
        ]
        try lab.seed(user: "frank", messages: messages)
        let pop = client(lab, .none)
        try pop.connect()
        try pop.login(user: lab.login(of: "frank"), password: "pw-frank-6")
        let entries = try pop.listing()
        #expect(entries.count == messages.count)
        for (entry, seeded) in zip(entries, messages) {
            #expect(entry.size == MailutilsLab.retrieved(seeded, uidl: nil).count, "LIST \(entry.number)")
            let got = try fetch(pop, entry.number)
            let expected = MailutilsLab.retrieved(seeded, uidl: entry.uidl)
            #expect(got == expected, "message \(entry.number): \(difference(got, expected))")
        }
        pop.quit()
        // The QUIT rewrite stores the parsed header: the fields after the line without a colon are gone for good.
        let stored = try Data(contentsOf: lab.mbox(of: "frank"))
        #expect(stored.range(of: Data("X-Trailing".utf8)) == nil)
        #expect(stored.range(of: Data("No colon here".utf8)) == nil)
        #expect(stored.range(of: Data("\n>>From once\n".utf8)) != nil)
    }

    @Test func quitRewritesTheMboxAndTheNextSessionSeesAddedHeaders() throws {
        let lab = try MailutilsLab.start(users: ["bob": "pw-bob-2"])
        defer { try? lab.destroy() }
        let messages = Corpus.mailbox(
            user: "bob", domain: "wingtip.example", count: 20, seed: 12,
            bigAttachment: false)
        try lab.seed(user: "bob", messages: messages)

        // First session over POP3S: list, read everything, QUIT (no DELE).
        var phases: [String] = []
        var mark = Date()
        let first = client(lab, .implicit)
        try first.connect()
        try first.login(user: lab.login(of: "bob"), password: "pw-bob-2")
        phases.append("connect+login \(seconds(since: mark))")
        mark = Date()
        let before = try first.listing()
        phases.append("listing \(seconds(since: mark))")
        mark = Date()
        var firstBytes: [[UInt8]] = []
        for entry in before {
            firstBytes.append(try fetch(first, entry.number))
        }
        phases.append("20 RETR \(seconds(since: mark))")
        mark = Date()
        first.quit()
        phases.append("QUIT \(seconds(since: mark))")
        let rewritten = try Data(contentsOf: lab.mbox(of: "bob"))
        #expect(rewritten.range(of: Data("\nX-IMAPbase: ".utf8)) != nil)

        // Second session in plain text: same UIDLs; every message gained X-UID and Status (and the first
        // X-IMAPbase), nothing else changed; LIST now equals RETR.
        let second = client(lab, .none)
        try second.connect()
        try second.login(user: lab.login(of: "bob"), password: "pw-bob-2")
        let after = try second.listing()
        #expect(after.map(\.uidl) == before.map(\.uidl))
        var added: [String] = []
        mark = Date()
        let numbers = after.map(\.number)
        for (index, entry) in after.enumerated() {
            // Pipelined this time: one stall-free stream of RETRs.
            let got = try fetch(second, entry.number, upcoming: numbers[(index + 1)...])
            #expect(entry.size == got.count, "LIST \(entry.number) after the rewrite")
            let (rest, extra) = removingHeaders(got, named: ["X-UID", "Status", "X-IMAPbase"])
            #expect(rest == firstBytes[index], "message \(entry.number): \(difference(rest, firstBytes[index]))")
            let names = extra.map { $0.prefix { $0 != ":" } }
            #expect(names == (index == 0 ? ["X-IMAPbase", "X-UID", "Status"] : ["X-UID", "Status"]))
            #expect(extra.contains("X-UID: \(index + 1)") && extra.contains("Status: OR"))
            if index < 2 {
                added += extra
            }
        }

        let pipelined = seconds(since: mark)
        // LIST again after RETR: sizes of messages with (quoted) "From " lines drift upwards; the others stay.
        let again = try second.listing()
        var drift: [String] = []
        for (index, (old, new)) in zip(after, again).enumerated() {
            let fromLines = hasFromLines(messages[index])
            if fromLines {
                if new.size != old.size {
                    drift.append("#\(old.number) \(old.size)→\(new.size)")
                }
            } else {
                #expect(new.size == old.size, "LIST \(old.number) changed without From lines")
            }
        }
        second.quit()
        #expect(drift.isEmpty, "after the QUIT rewrite LIST no longer drifts")
        print(
            """
            mailutils: headers added by the QUIT rewrite (messages 1, 2): \(added.joined(separator: " | "))
            mailutils: LIST drift after RETR: \(drift.isEmpty ? "none" : drift.joined(separator: ", "))
            mailutils: first session: \(phases.joined(separator: ", ")); second session: 20 RETR pipelined \(pipelined)
            """)
    }

    @Test func apopIsAdvertisedEvenWithoutAnAPOPDatabase() throws {
        let lab = try MailutilsLab.start(users: ["carol": "pw-carol-3"], apop: false)
        defer { try? lab.destroy() }
        try lab.seed(
            user: "carol",
            messages: Corpus.mailbox(
                user: "carol", domain: "wingtip.example", count: 3,
                seed: 13, bigAttachment: false))
        let pop = client(lab, .implicit)
        try pop.connect()
        #expect(pop.greeting.contains("@"), "greeting \(pop.greeting)")
        let started = Date()
        do {
            try pop.login(user: lab.login(of: "carol"), credential: .password("pw-carol-3"), allowed: [.apop])
            Issue.record("APOP succeeded without an APOP database")
        } catch let error as MailError {
            #expect(error.kind == .auth, "\(error)")
        }
        let refusal = seconds(since: started)
        // A refused login leaves the session in the authorization state: USER/PASS works on the same connection.
        try pop.login(user: lab.login(of: "carol"), credential: .password("pw-carol-3"), allowed: [.user])
        #expect(try pop.listing().count == 3)
        pop.quit()

        // What the client's default choice does here (APOP first, because of the greeting's timestamp).
        let fresh = client(lab, .implicit)
        try fresh.connect()
        var outcome = "logged in"
        do {
            try fresh.login(user: lab.login(of: "carol"), password: "pw-carol-3")
        } catch {
            outcome = "failed: \(error)"
        }
        fresh.quit()
        print("mailutils: APOP refusal took \(refusal); default login without APOP database \(outcome)")
    }

    @Test func requireTLSHidesUserUntilSTLS() throws {
        let lab = try MailutilsLab.start(users: ["dave": "pw-dave-4"], requireTLS: true)
        defer { try? lab.destroy() }
        let transcript = Transcript()
        let plain = client(lab, .none, transcript: transcript)
        try plain.connect()
        #expect(plain.capabilities.stls && !plain.capabilities.user)
        #expect(throws: MailError.self) {
            try plain.login(user: lab.login(of: "dave"), credential: .password("pw-dave-4"), allowed: [.user])
        }
        plain.quit()

        let secured = client(lab, .starttls)
        try secured.connect()
        try secured.login(user: lab.login(of: "dave"), password: "pw-dave-4")
        #expect(try secured.listing().isEmpty)
        secured.quit()
        #expect(
            transcript.capa(0) == [
                "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "EXPIRENEVER",
                "XTLSREQUIRED", "STLS",
            ])
        print("mailutils: CAPA with requireTLS before STLS: \(transcript.capa(0).joined(separator: " | "))")
    }

    /// pop3d dot-locks the mbox for the whole session: a second login is refused with [IN-USE] (RFC 2449 §8.1.1),
    /// which the client classifies as transient (the runner then waits instead of failing), and works again once
    /// the first session has quit.
    @Test func secondSessionIsRefusedWithInUse() throws {
        let lab = try MailutilsLab.start(users: ["hal": "pw-hal-8"])
        defer { try? lab.destroy() }
        try lab.seed(
            user: "hal",
            messages: Corpus.mailbox(
                user: "hal", domain: "wingtip.example", count: 2,
                seed: 14, bigAttachment: false))
        let first = client(lab, .implicit)
        try first.connect()
        try first.login(user: lab.login(of: "hal"), credential: .password("pw-hal-8"), allowed: [.user])
        let second = client(lab, .implicit)
        try second.connect()
        let error = #expect(throws: MailError.self) {
            try second.login(user: lab.login(of: "hal"), credential: .password("pw-hal-8"), allowed: [.user])
        }
        #expect(error?.code == .pop3(.inUse) && error?.kind == .transient, "\(String(describing: error))")
        second.quit()
        first.quit()
        let third = client(lab, .implicit)
        try third.connect()
        try third.login(user: lab.login(of: "hal"), credential: .password("pw-hal-8"), allowed: [.user])
        #expect(try third.listing().count == 2)
        third.quit()
    }

    @Test func addedUsersLogInAndStopEndsOpenSessions() throws {
        let lab = try MailutilsLab.start(users: ["erin": "pw-erin-5"])
        defer { try? lab.destroy() }
        // Plain text on purpose: the client's TLS writes go through write(2), and a write to the closed connection
        // would raise SIGPIPE in this test process (the mailferry binary ignores SIGPIPE; the test runner does not).
        // A user added while pop3d runs can log in at once, with APOP (popauth updates the database in place).
        try lab.addUser("gina", password: "pw-gina-7")
        #expect(lab.users == ["erin", "gina"])
        let added = client(lab, .implicit)
        try added.connect()
        try added.login(user: lab.login(of: "gina"), credential: .password("pw-gina-7"), allowed: [.apop])
        #expect(try added.listing().isEmpty)
        added.quit()

        let pop = client(lab, .none)
        try pop.connect()
        try pop.login(user: lab.login(of: "erin"), password: "pw-erin-5")
        let started = Date()
        lab.stop()
        let took = Date().timeIntervalSince(started)
        #expect(!lab.isRunning && lab.pid == nil)
        #expect(took < 4)
        // The session process is gone with the server: the next command fails instead of hanging.
        #expect(throws: MailError.self) { _ = try pop.listing() }
        pop.quit()
        print("mailutils: stop with one open session took \(String(format: "%.3f", took)) s")
    }

    /// The message with every line end as CRLF and a final CRLF: what a server that changes nothing sends.
    private func crlf(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var previous: UInt8 = 0
        for byte in message {
            if byte == 0x0A && previous != 0x0D {
                out.append(0x0D)
            }
            out.append(byte)
            previous = byte
        }
        if out.suffix(2) != [0x0D, 0x0A] {
            out += [0x0D, 0x0A]
        }
        return out
    }

    /// Removes the header lines (no continuations expected) whose field name is in `names`; returns the rest and the
    /// removed lines in order.
    private func removingHeaders(_ message: [UInt8], named names: Set<String>) -> ([UInt8], [String]) {
        var out: [UInt8] = []
        var removed: [String] = []
        var index = 0
        var inHeader = true
        while index < message.count {
            var end = index
            while end < message.count && message[end] != 0x0A { end += 1 }
            let line = Array(message[index..<min(message.count, end + 1)])
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines)
            if inHeader && text.isEmpty {
                inHeader = false
            }
            if inHeader, let name = text.split(separator: ":", maxSplits: 1).first, names.contains(String(name)) {
                removed.append(text)
            } else {
                out += line
            }
            index = end + 1
        }
        return (out, removed)
    }
}
