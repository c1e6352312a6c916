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

/// A POP3 maildrop whose listing and messages are generated while they are sent, so a test can serve a message of a
/// gigabyte, a header block of 100 MB, an endless body or 100,000 messages without holding any of them.
struct GeneratedMaildrop: Sendable {
    enum Body: Sendable {
        /// `headerBytes` of filler header fields, an empty line, then `bodyBytes` of text lines (all CRLF).
        case sized(headerBytes: Int, bodyBytes: Int)
        /// A body that never ends: lines until the client hangs up.
        case endless

        static let small = Body.sized(headerBytes: 0, bodyBytes: 200)
    }

    var count: Int
    /// The body of message n (1-based).
    var body: @Sendable (Int) -> Body
    /// What LIST says message n is, when not its real size.
    var listedSize: @Sendable (Int) -> Int? = { _ in nil }
    /// Seconds to wait before answering QUIT: keeps the client alive, at its fullest, long enough to be measured.
    var quitDelay: Double = 0.5

    static let line = Array((String(repeating: "0123456789", count: 7) + "ab\r\n").utf8)  // 74 bytes
    static let small = Body.sized(headerBytes: 0, bodyBytes: 200)

    func uidl(_ n: Int) -> String { "gen-\(n)" }

    /// Makes each message unique (identical bytes would be recorded as duplicates), at a fixed width.
    static func subject(_ n: Int) -> [UInt8] {
        let digits = String(n)
        return Array(
            ("Subject: generated " + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
                + "\r\n\r\n").utf8)
    }

    /// The exact bytes a message has after dot-unstuffing (none of the generated lines starts with ".").
    static func size(_ body: Body) -> Int {
        guard case .sized(let header, let text) = body else { return 0 }
        return header + subject(0).count + text
    }

    /// `count` bytes of `prefix`-led lines, the last one cut short but still ended with CRLF.
    static func lines(_ count: Int, prefix: [UInt8], into session: FakeSession) throws {
        var chunk: [UInt8] = []
        while chunk.count < 1 << 20 { chunk += prefix + line }
        var left = count
        while left > 0 {
            if left >= chunk.count {
                try session.send(chunk)
                left -= chunk.count
            } else {
                var tail = Array(chunk[..<left])
                if left >= 2 {
                    tail[left - 2] = 13
                    tail[left - 1] = 10
                } else {
                    tail = [10]
                }
                try session.send(tail)
                left = 0
            }
        }
    }

    /// Serves one POP3 session (USER/PASS "u"/"pw", no pipelining) until QUIT or the client leaves.
    func serve(_ session: FakeSession) throws {
        try session.send("+OK generated maildrop\r\n")
        while let line = try session.nextLine() {
            let words = line.split(separator: " ")
            switch words.first.map(String.init) ?? "" {
            case "CAPA": try session.send("+OK\r\nUSER\r\nUIDL\r\n.\r\n")
            case "USER", "PASS": try session.send("+OK\r\n")
            case "LIST", "UIDL":
                try session.send("+OK \(count) messages\r\n")
                var batch = ""
                for n in stride(from: 1, through: count, by: 1) {
                    let value = words[0] == "LIST" ? "\(listedSize(n) ?? Self.size(body(n)))" : uidl(n)
                    batch += "\(n) \(value)\r\n"
                    if batch.utf8.count > 1 << 16 {
                        try session.send(batch)
                        batch = ""
                    }
                }
                try session.send(batch + ".\r\n")
            case "RETR":
                let n = Int(words.last ?? "") ?? 0
                try session.send("+OK\r\n")
                switch body(n) {
                case .sized(let header, let text):
                    try Self.lines(header, prefix: Array("X-Filler: ".utf8), into: session)
                    try session.send(Self.subject(n))
                    try Self.lines(text, prefix: [], into: session)
                    try session.send(".\r\n")
                case .endless:
                    session.flood(Self.line, upTo: Int.max)
                    return
                }
            case "QUIT":
                if quitDelay > 0 { usleep(UInt32(quitDelay * 1_000_000)) }
                try session.send("+OK bye\r\n")
                return
            default:
                try session.send("-ERR unknown command\r\n")
            }
        }
    }
}

/// The real binary against generated maildrops: memory stays bounded (the peak resident set, VmHWM, of the child
/// is measured), a message too large is refused with an error naming its mailbox and UIDL, and the rest arrives.
@Suite(.serialized) struct ResourceBoundsTests {
    typealias Setup = POP3RunnerBehaviourTests.Setup

    /// Runs `mailferry run` on the plan, sampling the child's VmHWM (kB) until it exits or `stopAfter` says so.
    static func run(_ setup: Setup, timeout: Double = 600, stopAfter: (() -> Bool)? = nil)
        throws -> (code: Int32, out: String, err: String, peakKB: Int)
    {
        let child = try ChildProcess(EndToEnd.binary, ["run", setup.planFile])
        defer { child.removeOutput() }
        var peak = 0
        let deadline = Date().addingTimeInterval(timeout)
        var code: Int32?
        var stopped = false
        while code == nil && Date() < deadline {
            peak = max(peak, highWaterKB(child.pid))
            if !stopped, let stopAfter, stopAfter() {
                peak = max(peak, highWaterKB(child.pid))
                child.signal(SIGTERM)
                stopped = true
            }
            // Sampled every 2 ms, and the exit noticed without reaping (WNOWAIT) so a last sample is never skipped:
            // a small run can be over within a 50 ms sampling period.
            if exited(child.pid) {
                code = child.wait(timeout: 10)
            } else {
                usleep(2_000)
            }
        }
        if code == nil {
            child.kill9()
            Issue.record("mailferry did not finish within \(timeout) s")
        }
        #expect(peak > 0, "the child was never measured")
        return (code ?? -1, child.stdout, child.stderr, peak)
    }

    /// Whether the child has exited, leaving it to be reaped (`waitid` with WNOWAIT).
    static func exited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_signo != 0
    }

    /// The peak resident set size of a live process, in kB (0 once it is gone).
    static func highWaterKB(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static func maildirSizes(_ setup: Setup) -> [Int] {
        let dir = URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path + "/target/u/new"
        return setup.maildirFiles.map { name in
            var info = stat()
            return stat(dir + "/" + name, &info) == 0 ? Int(info.st_size) : -1
        }.sorted()
    }

    /// A small mailbox's peak, the yardstick for the others. The server holds the session open a second at the end,
    /// so the sampling sees the run at its fullest even on a loaded machine.
    static let baselineKB: Int = {
        let drop = GeneratedMaildrop(count: 2, body: { _ in .small }, quitDelay: 1)
        guard let server = try? FakeServer(timeout: 30, handler: drop.serve) else { return 0 }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let peak = (try? run(setup))?.peakKB ?? 0
        server.finish()
        return peak
    }()

    /// A body that never ends (LIST said 500 bytes): cut off at maxMessageBytes, refused with its UIDL, and the
    /// messages after it still arrive, through a second session.
    @Test func endlessBodyIsRefusedAndTheRestArrives() throws {
        let drop = GeneratedMaildrop(
            count: 3, body: { $0 == 2 ? .endless : GeneratedMaildrop.Body.small },
            listedSize: { $0 == 2 ? 500 : nil })
        let server = try FakeServer(connections: 2, timeout: 30, handler: drop.serve)
        let setup = Setup(port: server.port, sourceExtras: ", maxMessageBytes: 1048576")
        defer { setup.folder.cleanup() }
        let result = try Self.run(setup, timeout: 120)
        server.finish()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        #expect(Self.maildirSizes(setup) == [GeneratedMaildrop.size(.small), GeneratedMaildrop.size(.small)])
        let report = try String(contentsOfFile: try Self.lastReport(setup), encoding: .utf8)
        #expect(
            report.contains(
                "message gen-2 of odd/u refused: more than 1048576 bytes by RETR (LIST said 500), "
                    + "more than maxMessageBytes (1048576) of sources.odd; left on the server"), "\(report)")
        #expect(result.peakKB < Self.baselineKB + 16 * 1024, "peak \(result.peakKB) kB, baseline \(Self.baselineKB)")
        print("endless body: peak RSS \(result.peakKB / 1024) MiB (baseline \(Self.baselineKB / 1024) MiB)")

        // The next run does not fetch it again: it is set aside (quarantined), and nothing else is waiting. A
        // quarantined message is listed and not delivered, so the exit code (read from the state) stays 1 until
        // the admin acts, and the closing line says why.
        let again = try FakeServer(timeout: 30, handler: drop.serve)
        try setup.rewritePort(again.port)
        let second = try Self.run(setup, timeout: 60)
        again.finish()
        #expect(second.code == 1, "\(second.out)\n\(second.err)")
        #expect(second.out.contains("0 messages delivered (0 B) in "), "\(second.out)")
        #expect(second.out.contains("; 1 quarantined; exit 1\n"), "\(second.out)")
        #expect(!again.transcript.contains("RETR"))
    }

    /// LIST announces a message larger than maxMessageBytes: never asked for (no RETR), refused, the rest arrives.
    @Test func listedTooLargeIsNeverFetched() throws {
        let drop = GeneratedMaildrop(
            count: 3, body: { _ in GeneratedMaildrop.Body.small },
            listedSize: { $0 == 1 ? 5_000_000_000 : nil })
        let server = try FakeServer(timeout: 30, handler: drop.serve)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try Self.run(setup, timeout: 60)
        server.finish()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        #expect(Self.maildirSizes(setup).count == 2, "\(result.out)\n\(result.err)\n\(server.transcript.plainText)")
        #expect(!server.transcript.contains("RETR 1\r\n") && server.transcript.contains("RETR 3\r\n"))
        let report = try String(contentsOfFile: try Self.lastReport(setup), encoding: .utf8)
        #expect(
            report.contains(
                "message gen-1 of odd/u refused: 5000000000 bytes by LIST, more than maxMessageBytes "
                    + "(4294967296)"), "\(report)")
    }

    /// A big message streams through the spool into the Maildir in constant memory. 100 MiB here;
    /// scripts/bench-big-message runs it with 1 GiB (MAILFERRY_BIG_MESSAGE_MB=1024) on the release build.
    @Test func bigMessageStreamsInBoundedMemory() throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["MAILFERRY_BIG_MESSAGE_MB"] ?? "") ?? 100
        let big = GeneratedMaildrop.Body.sized(headerBytes: 0, bodyBytes: megabytes << 20)
        let drop = GeneratedMaildrop(count: 2, body: { $0 == 1 ? big : GeneratedMaildrop.Body.small })
        let server = try FakeServer(timeout: 120, handler: drop.serve)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let started = Date()
        let result = try Self.run(setup, timeout: 1800)
        let seconds = Date().timeIntervalSince(started) - drop.quitDelay
        server.finish()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(Self.maildirSizes(setup) == [GeneratedMaildrop.size(.small), GeneratedMaildrop.size(big)])
        #expect(result.peakKB < Self.baselineKB + 32 * 1024, "peak \(result.peakKB) kB, baseline \(Self.baselineKB)")
        print(
            "\(megabytes) MiB message: peak RSS \(result.peakKB / 1024) MiB "
                + "(baseline \(Self.baselineKB / 1024) MiB), "
                + String(format: "%.1f s, %.0f MiB/s", seconds, Double(megabytes) / seconds))
    }

    /// A header block of 100 MB (no empty line for 100 MB): parsed only up to the header limit, delivered whole.
    @Test func hugeHeaderBlockIsBounded() throws {
        let huge = GeneratedMaildrop.Body.sized(headerBytes: 100 << 20, bodyBytes: 1000)
        let drop = GeneratedMaildrop(count: 2, body: { $0 == 1 ? huge : GeneratedMaildrop.Body.small })
        let server = try FakeServer(timeout: 120, handler: drop.serve)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let result = try Self.run(setup, timeout: 900)
        server.finish()
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(Self.maildirSizes(setup) == [GeneratedMaildrop.size(.small), GeneratedMaildrop.size(huge)])
        #expect(result.peakKB < Self.baselineKB + 32 * 1024, "peak \(result.peakKB) kB, baseline \(Self.baselineKB)")
        print("100 MB header block: peak RSS \(result.peakKB / 1024) MiB (baseline \(Self.baselineKB / 1024) MiB)")
    }

    /// 100,000 messages in one mailbox: the listing is read and every UIDL gets its row (one transaction); the run is
    /// then stopped (SIGTERM) once fetching has begun, rather than delivering them all.
    @Test func hundredThousandMessagesAreListedInBoundedMemory() throws {
        let count = Int(ProcessInfo.processInfo.environment["MAILFERRY_LISTING_COUNT"] ?? "") ?? 100_000
        let drop = GeneratedMaildrop(count: count, body: { _ in GeneratedMaildrop.Body.small })
        let server = try FakeServer(timeout: 60, handler: drop.serve)
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let started = Date()
        let result = try Self.run(setup, timeout: 600) { server.transcript.contains("RETR 20\r\n") }
        server.stop()
        server.finish(reporting: false)
        #expect(result.code == 143, "\(result.out)\n\(result.err)")
        let db = try Database(path: setup.folder.path + "/state/fake.sqlite")
        let rows = try db.prepare("SELECT count(*) FROM messages").rows { $0.int(0) }
        #expect(rows == [Int64(count)])
        // The listing and its rows are held while the mailbox is worked on: linear in the number of messages, about
        // 2 KB each (100,000: about 200 MiB), never in their sizes. 4 KB each would mean something else is kept.
        #expect(result.peakKB < Self.baselineKB + count * 4, "peak \(result.peakKB) kB, baseline \(Self.baselineKB)")
        print(
            "\(count) messages listed: peak RSS \(result.peakKB / 1024) MiB "
                + "(baseline \(Self.baselineKB / 1024) MiB), "
                + String(format: "listing and rows within %.1f s", Date().timeIntervalSince(started)))
    }

    /// The plan setting: a whole number of bytes from 1 KiB to 1 TiB, default 4 GiB.
    @Test func maxMessageBytesIsValidated() throws {
        let folder = TempFolder("max-bytes")
        defer { folder.cleanup() }
        func load(_ extra: String) throws -> Plan {
            try PlanLoader.load(
                folder.file(
                    "jobs/p.json5",
                    """
                    { plan: "p", sources: { isp: { host: "pop.example", \(extra) } },
                      targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
                      mailboxes: [ { source: "isp", user: "u", password: { env: "HOME" }, target: "box" } ] }
                    """))
        }
        #expect(try load("").sources["isp"]?.maxMessageBytes == 4 << 30)
        #expect(try load("maxMessageBytes: 200000000").sources["isp"]?.maxMessageBytes == 200_000_000)
        let error = #expect(throws: PlanError.self) { try load("maxMessageBytes: 10") }
        #expect(
            "\(error.map { "\($0)" } ?? "")".contains(
                "sources.isp.maxMessageBytes: must be a whole number from 1024 to 1099511627776"),
            "\(String(describing: error))")
    }

    static func lastReport(_ setup: Setup) throws -> String {
        let folder = setup.folder.path + "/reports/fake"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".md") }.sorted()
        return folder + "/" + (names.last ?? "none")
    }
}

extension POP3RunnerBehaviourTests.Setup {
    /// Points the plan's source at another port (a second fake server for the next run).
    func rewritePort(_ port: Int) throws {
        let text = try String(contentsOfFile: planFile, encoding: .utf8)
        let rewritten = text.replacingOccurrences(of: #"port: \d+"#, with: "port: \(port)", options: .regularExpression)
        try rewritten.write(toFile: planFile, atomically: true, encoding: .utf8)
    }
}
