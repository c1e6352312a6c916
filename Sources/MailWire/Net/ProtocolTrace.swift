import Foundation
import Glibc
import MailCore
import MailSystem
import Synchronization

/// The protocol trace of `mailferry run --verbose` (standard error) and `--trace FILE`: every command and reply line
/// of the POP3 sessions and of the IMAP, LMTP and SMTP target sessions, one line each, named by mailbox and server.
///
/// Secrets never get here: the clients hand over each credential-bearing line already redacted where they build it
/// (`traceAs:` — PASS, APOP, AUTH and AUTHENTICATE with their SASL blobs, IMAP LOGIN), and message bodies only as a
/// size (STYLE.md habit 9). The trace file is created 0600 all the same: it names people and their servers.
public final class ProtocolTrace: Sendable {
    private let fd: Mutex<Int32>
    /// Where `--verbose` shows the trace: the console's standard error, so it never garbles the live progress.
    private let standardError: (@Sendable (String) -> Void)?

    /// `path` nil: no file. An existing file is appended to (each run's trace follows the last one's, after its
    /// `header`), so a trace kept across cron runs keeps them all.
    public init(path: String?, standardError: (@Sendable (String) -> Void)?) throws {
        self.standardError = standardError
        var descriptor: Int32 = -1
        if let path {
            descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if descriptor < 0 { throw MailError(.local, "cannot create the trace file \(path): \(errnoText())") }
            // An existing file keeps its mode through O_CREAT: make it private too.
            fchmod(descriptor, 0o600)
        }
        fd = Mutex(descriptor)
    }

    /// A line that opens one run's part of the trace file ("# mailferry 1.0 run ... plan ..."); not shown on
    /// standard error, which belongs to this run alone.
    public func header(_ text: String) {
        let line = Array(("# " + Self.timestamp() + " " + text + "\n").utf8)
        fd.withLock { descriptor in
            if descriptor >= 0 { line.withUnsafeBytes { _ = Glibc.write(descriptor, $0.baseAddress, $0.count) } }
        }
    }

    deinit {
        fd.withLock { if $0 >= 0 { close($0) } }
    }

    /// The trace callback for one client session: `label` names it ("isp/chris pop3 127.0.0.1:995").
    public func session(_ label: String) -> @Sendable (String) -> Void {
        { [self] line in self.write(label + " " + line) }
    }

    func write(_ line: String) {
        let stamped = Self.timestamp() + " " + line
        let text = Array((stamped + "\n").utf8)
        fd.withLock { descriptor in
            if descriptor >= 0 { text.withUnsafeBytes { _ = Glibc.write(descriptor, $0.baseAddress, $0.count) } }
        }
        standardError?(stamped)
    }

    /// Wall-clock date and time with milliseconds, UTC, ISO 8601: "2026-12-21T23:41:07.123Z". A trace kept over
    /// days (it is appended to) needs the date on every line.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = time_t(now.tv_sec)
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(now.tv_nsec) / 1_000_000
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))."
            + String(millis).leftPadded(to: 3, with: "0") + "Z"
    }
}
