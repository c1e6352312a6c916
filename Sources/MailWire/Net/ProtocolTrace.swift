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

    /// `path` nil: no file. Truncates an existing file.
    public init(path: String?, standardError: (@Sendable (String) -> Void)?) throws {
        self.standardError = standardError
        var descriptor: Int32 = -1
        if let path {
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
            if descriptor < 0 { throw MailError(.local, "cannot create trace file \(path): \(errnoText())") }
            // An existing file keeps its mode through O_CREAT: make it private too.
            fchmod(descriptor, 0o600)
        }
        fd = Mutex(descriptor)
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

    /// Wall-clock time with milliseconds, UTC: "23:41:07.123".
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec) % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(now.tv_nsec) / 1_000_000
        return "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))."
            + String(millis).leftPadded(to: 3, with: "0")
    }
}
