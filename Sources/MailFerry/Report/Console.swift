import Foundation
import Synchronization

/// Where people read us. Whole lines only, one writer at a time, so worker threads never interleave text.
public final class Console: Sendable {
    private let lock = Mutex(())
    private let out: Int32
    private let err: Int32

    public init(out: Int32 = 1, err: Int32 = 2) {
        self.out = out
        self.err = err
    }

    public func line(_ text: String) { write(text + "\n", to: out) }
    public func error(_ text: String) { write(text + "\n", to: err) }

    private func write(_ text: String, to fd: Int32) {
        lock.withLock { _ in
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Prints a line per finished mailbox (the cron-friendly form).
struct ConsoleObserver: RunObserver {
    let console: Console
    let quiet: Bool

    func mailboxStarted(_ mailbox: Plan.Mailbox) {}

    func mailboxFinished(_ r: MailboxResult) {
        if quiet && r.ok && r.delivered == 0 && r.duplicate == 0 && r.reconciled == 0 { return }
        console.line(Self.describe(r))
    }

    static func describe(_ r: MailboxResult) -> String {
        var text = "  \(sanitizeForDisplay(r.address)) (\(sanitizeForDisplay(r.key))): "
        if let onServer = r.onServer { text += "\(onServer) on server, \(r.new) new, " }
        text += "\(r.delivered) delivered (\(formatBytes(r.bytes)))"
        if r.routed > 0 { text += " in \(r.routed) routed deliver\(r.routed == 1 ? "y" : "ies")" }
        if r.duplicate > 0 { text += ", \(r.duplicate) duplicate" }
        if r.reconciled > 0 { text += ", \(r.reconciled) confirmed from an interrupted run" }
        if r.deferred > 0 { text += ", \(r.deferred) deferred" }
        if r.failed > 0 { text += ", \(r.failed) failed" }
        if r.quarantined > 0 { text += ", \(r.quarantined) quarantined" }
        if r.removed > 0 { text += ", \(r.removed) deleted from the source (retention)" }
        for note in r.notes where note.hasPrefix("would ") { text += "\n    \(note)" }
        if r.pending > 0 { text += ", \(r.pending) left for the next run" }
        text += String(format: " [%.1f s]", r.seconds)
        if let waiting = r.waiting { text += "\n    waiting: \(waiting)" }
        if let error = r.error {
            text += (r.errorKind == .transient ? "\n    deferred (transient, retried next run): " : "\n    stopped: ")
                + error
        }
        return text
    }
}
