import Foundation
import Synchronization
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A slow target must not hold the source session into its server's autologout (RFC 1939 §3): while the run waits
/// for the target, the POP3 session is sent NOOP every `keepaliveSeconds` and, once a wait lasted `maxIdleSeconds`,
/// ended with QUIT; the run resumes in a new session after the wait. Scripted servers: a POP3 server that logs a
/// session out after 5 s without a command, and an LMTP target that takes 8 s to answer for the first message.
@Suite(.serialized) struct SlowTargetTests {
    // MARK: - The clock, alone

    @Test func clockSleepsThenKeepsAliveThenCloses() {
        let clock = IdleClock(keepalive: 120, maxIdle: 300)
        // A wait that began at 10, the last command at 5: next keepalive due at 125.
        #expect(clock.next(now: 10, waitingSince: 10, lastSent: 5) == .sleep(until: 125))
        #expect(clock.next(now: 125, waitingSince: 10, lastSent: 5) == .keepAlive)
        // After a NOOP at 125, the next is due at 245; the wait's ceiling at 310 comes after it.
        #expect(clock.next(now: 126, waitingSince: 10, lastSent: 125) == .sleep(until: 245))
        #expect(clock.next(now: 290, waitingSince: 10, lastSent: 245) == .sleep(until: 310))
        #expect(clock.next(now: 310, waitingSince: 10, lastSent: 245) == .close)
    }

    @Test func clockWithACeilingBelowTheKeepaliveClosesFirst() {
        let clock = IdleClock(keepalive: 120, maxIdle: 30)
        #expect(clock.next(now: 0, waitingSince: 0, lastSent: 0) == .sleep(until: 30))
        #expect(clock.next(now: 30, waitingSince: 0, lastSent: 0) == .close)
    }

    @Test func aLoginDelayServerIsKeptNotEnded() {
        var source = try! Self.load(Self.planText(pop3: 1, lmtp: 2, sourceExtras: "")).sources["odd"]!
        source.keepaliveSeconds = 60
        source.maxIdleSeconds = 90
        #expect(source.idleClock(loginDelay: nil) == IdleClock(keepalive: 60, maxIdle: 90))
        #expect(source.idleClock(loginDelay: 0) == IdleClock(keepalive: 60, maxIdle: 90))
        // A new login could not follow soon: the session is kept with NOOPs for as long as the target takes.
        let kept = source.idleClock(loginDelay: 900)
        #expect(kept == IdleClock(keepalive: 60, maxIdle: nil))
        #expect(kept.next(now: 100_000, waitingSince: 0, lastSent: 99_990) == .sleep(until: 100_050))
    }

    @Test func planOptionsDefaultAndAreBounded() throws {
        let plain = try Self.load(Self.planText(pop3: 1, lmtp: 2, sourceExtras: "")).sources["odd"]!
        #expect(plain.keepaliveSeconds == 120 && plain.maxIdleSeconds == 300)
        let set = try Self.load(
            Self.planText(pop3: 1, lmtp: 2, sourceExtras: ", keepaliveSeconds: 30, maxIdleSeconds: 45")
        ).sources["odd"]!
        #expect(set.keepaliveSeconds == 30 && set.maxIdleSeconds == 45)
        let error = #expect(throws: PlanError.self) {
            try Self.load(
                Self.planText(pop3: 1, lmtp: 2, sourceExtras: ", keepaliveSeconds: 600, maxIdleSeconds: 0"))
        }
        let text = error?.description ?? ""
        #expect(text.contains("sources.odd.keepaliveSeconds"), "\(text)")
        #expect(text.contains("sources.odd.maxIdleSeconds"), "\(text)")
    }

    // MARK: - Against scripted servers

    /// The scenario of issue 22: the target stalls 8 s on the first message, the POP3 server logs out after 5 s of
    /// silence. With a NOOP after 2 s and QUIT after 4 s of waiting, the first session ends cleanly before the
    /// server's timer fires; a second session fetches the rest; every message is delivered once.
    @Test func slowTargetEndsTheSessionCleanlyAndResumes() throws {
        let pop3 = try AutologoutPOP3(messages: Self.messages, autologout: 5, sessions: 2)
        let lmtp = try StallingLMTP(stallFirst: 8)
        let setup = try Self.workspace(pop3: pop3.port, lmtp: lmtp.port, keepalive: 2, maxIdle: 4)
        defer { setup.folder.cleanup() }
        let summary = try setup.run()
        pop3.server.finish()
        lmtp.server.finish()
        #expect(summary.exitCode == 0, "\(summary.mailboxes)")
        #expect(summary.delivered == 3)
        // Every message reached the target exactly once.
        #expect(lmtp.delivered.sorted() == Self.messages.map { $0.body }.sorted(), "\(lmtp.delivered)")
        // The fake's own log: no autologout fired; the first session ended with QUIT (after a NOOP), and a second
        // session logged in and fetched the two messages the first could not.
        let log = pop3.log
        #expect(!log.contains { $0.line == "autologout" }, "\(log)")
        let first = log.filter { $0.session == 0 }.map(\.line)
        let second = log.filter { $0.session == 1 }.map(\.line)
        #expect(first.contains("NOOP") && first.last == "QUIT", "\(first)")
        #expect(second.contains("PASS pw") && second.contains("RETR 2") && second.contains("RETR 3"), "\(second)")
        #expect(second.last == "QUIT", "\(second)")
        // QUIT came while the target still held the run, well before the server's 5 s of silence ran out.
        let quit = try #require(log.first { $0.session == 0 && $0.line == "QUIT" })
        let before = try #require(log.last { $0.session == 0 && $0.at < quit.at && $0.line != "QUIT" })
        #expect(quit.at - before.at < 5, "\(log)")
        #expect(quit.at < lmtp.firstAnsweredAt ?? .infinity, "QUIT while the target was still stalling")
        // The run's trace shows it too, and the report says what happened.
        let trace = try String(contentsOfFile: setup.trace, encoding: .utf8)
        #expect(trace.contains("pop3 127.0.0.1:\(pop3.port) C: NOOP"), "\(trace)")
        #expect(trace.components(separatedBy: "C: PASS").count == 3, "two logins:\n\(trace)")
        let notes = summary.mailboxes[0].notes.joined(separator: "\n")
        #expect(
            notes.contains("(QUIT after maxIdleSeconds, or lost), and the run resumed in a new session"), "\(notes)")
        #expect(!notes.contains("was lost"), "\(notes)")
    }

    /// Only NOOP: the ceiling is far away, so the one session is kept through the 8 s stall by NOOPs every 2 s,
    /// across the server's 5 s autologout.
    @Test func keepalivesHoldTheSessionThroughAStall() throws {
        let pop3 = try AutologoutPOP3(messages: Self.messages, autologout: 5, sessions: 1)
        let lmtp = try StallingLMTP(stallFirst: 8)
        let setup = try Self.workspace(pop3: pop3.port, lmtp: lmtp.port, keepalive: 2, maxIdle: 600)
        defer { setup.folder.cleanup() }
        let summary = try setup.run()
        pop3.server.finish()
        lmtp.server.finish()
        #expect(summary.exitCode == 0 && summary.delivered == 3, "\(summary.mailboxes)")
        #expect(lmtp.delivered.sorted() == Self.messages.map { $0.body }.sorted())
        let lines = pop3.log.map(\.line)
        #expect(!lines.contains("autologout"), "\(lines)")
        #expect(lines.filter { $0 == "NOOP" }.count >= 2, "\(lines)")
        #expect(lines.filter { $0 == "PASS pw" }.count == 1 && lines.last == "QUIT", "\(lines)")
        // After the long wait the target counted as slow: the next retrieval was not pipelined ahead. RETR 2 and 3
        // had been pipelined during the first message; their replies were read and dropped before the first NOOP,
        // so they were asked for again, one at a time.
        #expect(lines.filter { $0 == "RETR 2" }.count == 2, "\(lines)")
        let notes = summary.mailboxes[0].notes.joined(separator: "\n")
        #expect(notes.contains("kept the POP3 session while the run waited for a slow target"), "\(notes)")
    }

    /// A target slow on every message: once it counted as slow, nothing is pipelined ahead again while it stays slow
    /// (a flush that was not due, between two messages, says nothing of the target's speed). So each message after
    /// the first stall is asked for once more at most: RETR 3 twice (pipelined during the first message, dropped
    /// before the first NOOP, then alone), never a third time.
    @Test func aTargetSlowOnEveryMessageIsNotPipelinedAgain() throws {
        let pop3 = try AutologoutPOP3(messages: Self.messages, autologout: 60, sessions: 1)
        let lmtp = try StallingLMTP(stallFirst: 4, stallEvery: true)
        let setup = try Self.workspace(pop3: pop3.port, lmtp: lmtp.port, keepalive: 2, maxIdle: 600)
        defer { setup.folder.cleanup() }
        let summary = try setup.run()
        pop3.server.finish()
        lmtp.server.finish()
        #expect(summary.exitCode == 0 && summary.delivered == 3, "\(summary.mailboxes)")
        #expect(lmtp.delivered.sorted() == Self.messages.map { $0.body }.sorted())
        let lines = pop3.log.map(\.line)
        #expect(lines.filter { $0 == "NOOP" }.count >= 3, "\(lines)")
        #expect(lines.filter { $0 == "RETR 2" }.count == 2, "\(lines)")
        #expect(lines.filter { $0 == "RETR 3" }.count == 2, "\(lines)")
    }

    /// A server with EXPIRE 0 removes what was retrieved at QUIT: the keeper then ends the session without QUIT, so
    /// nothing retrieved and not yet delivered can be removed.
    @Test func expireZeroSessionIsDroppedWithoutQuit() throws {
        let pop3 = try AutologoutPOP3(
            messages: Self.messages, autologout: 5, sessions: 2, extraCapabilities: ["EXPIRE 0"])
        let lmtp = try StallingLMTP(stallFirst: 8)
        let setup = try Self.workspace(
            pop3: pop3.port, lmtp: lmtp.port, keepalive: 2, maxIdle: 4, extras: ", allowExpireZero: true")
        defer { setup.folder.cleanup() }
        let summary = try setup.run()
        pop3.server.finish()
        lmtp.server.finish()
        #expect(summary.exitCode == 0 && summary.delivered == 3, "\(summary.mailboxes)")
        let first = pop3.log.filter { $0.session == 0 }.map(\.line)
        #expect(!first.contains("QUIT") && !first.contains("autologout"), "\(first)")
        #expect(first.last == "closed", "\(first)")
        #expect(pop3.log.filter { $0.session == 1 }.map(\.line).last == "QUIT")
    }

    // MARK: - Setup

    static let messages: [(uidl: String, body: String)] = [
        ("u-one", "From: a@wingtip.example\r\nSubject: one\r\n\r\nfirst\r\n"),
        ("u-two", "From: b@wingtip.example\r\nSubject: two\r\n\r\nsecond\r\n"),
        ("u-three", "From: c@wingtip.example\r\nSubject: three\r\n\r\nthird\r\n"),
    ]

    static func planText(pop3: Int, lmtp: Int, sourceExtras: String, secret: String = "/nonexistent") -> String {
        """
        {
          plan: "slow",
          sources: { odd: { host: "127.0.0.1", port: \(pop3), tls: "none", allowPlaintext: true, timeoutSeconds: 30,
                            auth: ["user"] \(sourceExtras) } },
          targets: { relay: { kind: "lmtp", host: "127.0.0.1", port: \(lmtp) } },
          mailboxes: [ { source: "odd", user: "u", password: { file: "\(secret)" }, target: "relay",
                         mailbox: "u@contoso.example" } ],
        }
        """
    }

    /// The plan `text`, loaded from a file of its own.
    static func load(_ text: String) throws -> Plan {
        let folder = TempFolder("slow-plan")
        defer { folder.cleanup() }
        return try PlanLoader.load(folder.file("jobs/slow.json5", text))
    }

    struct Workspace {
        let folder: TempFolder
        let planFile: String
        var trace: String { folder.path + "/trace.txt" }

        /// A whole `mailferry run --trace FILE` in-process.
        func run() throws -> RunSummary {
            let plan = try PlanLoader.load(planFile)
            let store = try Store(path: plan.statePath)
            let output = folder.path + "/console.txt"
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            defer { close(fd) }
            return RunCommand.execute(
                plan: plan, store: store,
                args: RunCommand.Arguments(plan: planFile, trace: trace, noProgress: true),
                console: Console(out: fd, err: fd))
        }
    }

    static func workspace(pop3: Int, lmtp: Int, keepalive: Int, maxIdle: Int, extras: String = "") throws -> Workspace {
        let folder = TempFolder("slow-target")
        let secret = folder.file("secrets/pw", "pw\n")
        let plan = folder.file(
            "jobs/slow.json5",
            planText(
                pop3: pop3, lmtp: lmtp,
                sourceExtras: ", keepaliveSeconds: \(keepalive), maxIdleSeconds: \(maxIdle)\(extras)", secret: secret))
        return Workspace(folder: folder, planFile: plan)
    }
}

/// A POP3 server (plain, USER/PASS) that logs a session out after `autologout` seconds without a command, as RFC
/// 1939 §3 lets servers do, and logs every command it got with the time it got it ("autologout" when its timer fired,
/// "closed" when the client went away without QUIT). Announces PIPELINING.
final class AutologoutPOP3: @unchecked Sendable {
    struct Entry: Sendable, CustomStringConvertible {
        var session: Int
        var at: Double
        var line: String
        var description: String { "\(session)@\(String(format: "%.2f", at)): \(line)" }
    }

    let server: FakeServer
    private let entries = Locked<[Entry]>([])
    var port: Int { server.port }
    var log: [Entry] { entries.value }

    init(
        messages: [(uidl: String, body: String)], autologout: Double, sessions: Int, extraCapabilities: [String] = []
    ) throws {
        let capabilities = ["USER", "UIDL", "PIPELINING"] + extraCapabilities
        let box = entries
        server = try FakeServer(connections: sessions, timeout: 60) { session in
            func note(_ line: String) {
                box.update { $0.append(Entry(session: session.number, at: monotonicSeconds(), line: line)) }
            }
            try session.send("+OK fake POP3 ready\r\n")
            while true {
                let line: String
                switch try session.nextLine(idleLimit: autologout) {
                case .closed:
                    note("closed")
                    return
                case .idle:
                    note("autologout")
                    try session.send("-ERR [SYS/TEMP] autologout: idle for too long\r\n")
                    session.close()
                    return
                case .line(let text):
                    line = text
                }
                note(line)
                let reply = Self.answer(line, messages: messages, capabilities: capabilities)
                try session.send(reply)
                if line == "QUIT" { return }
            }
        }
    }

    static func answer(_ line: String, messages: [(uidl: String, body: String)], capabilities: [String]) -> String {
        let words = line.split(separator: " ").map(String.init)
        switch words.first ?? "" {
        case "CAPA": return "+OK\r\n" + capabilities.map { $0 + "\r\n" }.joined() + ".\r\n"
        case "USER", "PASS", "NOOP", "QUIT": return "+OK\r\n"
        case "LIST":
            return "+OK\r\n"
                + messages.enumerated().map { "\($0.offset + 1) \($0.element.body.utf8.count)\r\n" }
                .joined() + ".\r\n"
        case "UIDL":
            return "+OK\r\n" + messages.enumerated().map { "\($0.offset + 1) \($0.element.uidl)\r\n" }.joined()
                + ".\r\n"
        case "RETR":
            guard words.count == 2, let number = Int(words[1]), (1...messages.count).contains(number) else {
                return "-ERR no such message\r\n"
            }
            return "+OK\r\n" + messages[number - 1].body + ".\r\n"
        default: return "-ERR unknown command\r\n"
        }
    }
}

/// An LMTP target that takes `stallFirst` seconds to answer for the first message it is given (a full queue, a slow
/// disk), then answers at once; it keeps every message it accepted.
final class StallingLMTP: @unchecked Sendable {
    let server: FakeServer
    private let state = Locked<(delivered: [String], answered: Double?)>(([], nil))
    var port: Int { server.port }
    var delivered: [String] { state.value.delivered }
    /// When the first message's final reply went out (monotonic seconds).
    var firstAnsweredAt: Double? { state.value.answered }

    /// `stallEvery`: every message stalls, not only the first.
    init(stallFirst: Double, stallEvery: Bool = false) throws {
        let box = state
        server = try FakeServer(connections: 1, timeout: 60) { session in
            try session.send("220 fake LMTP\r\n")
            while let line = try session.nextLine() {
                let verb = line.split(separator: " ").first.map { String($0).uppercased() } ?? ""
                switch verb {
                case "LHLO": try session.send("250-fake\r\n250 8BITMIME\r\n")
                case "DATA":
                    try session.send("354 go ahead\r\n")
                    var body = ""
                    while let data = try session.nextLine(), data != "." {
                        body += (data.hasPrefix(".") ? String(data.dropFirst()) : data) + "\r\n"
                    }
                    let first = box.value.delivered.isEmpty
                    if first || stallEvery { session.sleep(stallFirst) }
                    box.update {
                        $0.delivered.append(body)
                        if first { $0.answered = monotonicSeconds() }
                    }
                    try session.send("250 2.0.0 stored\r\n")
                case "QUIT":
                    try session.send("221 bye\r\n")
                    return
                default: try session.send("250 ok\r\n")
                }
            }
        }
    }
}

/// A value shared between a fake server's thread and the test.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    func update(_ body: (inout Value) -> Void) {
        lock.withLock { body(&stored) }
    }
}
