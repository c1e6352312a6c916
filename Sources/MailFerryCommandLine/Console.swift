import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire
import Synchronization

/// Where people read us. Whole lines only, one writer at a time, so worker threads never interleave text. On a
/// terminal it can also keep a status block (live progress) below everything printed: each line printed goes above
/// the block, which is erased and drawn again around it, so progress and log lines never garble each other.
public final class Console: Sendable {
    /// The status block's lines as drawn on `out` (without a final newline; the cursor stays at its end).
    private let block = Mutex<[String]>([])
    private let out: Int32
    private let err: Int32

    public init(out: Int32 = 1, err: Int32 = 2) {
        self.out = out
        self.err = err
    }

    public func line(_ text: String) { emit(text + "\n", to: out) }
    public func error(_ text: String) { emit(text + "\n", to: err) }

    /// Replaces the status block with `lines` (each shorter than the terminal is wide); `[]` removes it.
    func setStatus(_ lines: [String]) {
        block.withLock { drawn in
            Self.put(Self.erasing(drawn) + lines.joined(separator: "\n"), to: out)
            drawn = lines
        }
    }

    private func emit(_ text: String, to fd: Int32) {
        block.withLock { drawn in
            if drawn.isEmpty { return Self.put(text, to: fd) }
            Self.put(Self.erasing(drawn), to: out)
            Self.put(text, to: fd)
            Self.put(drawn.joined(separator: "\n"), to: out)
        }
    }

    /// Moves to the block's first line, clearing each line on the way up.
    private static func erasing(_ lines: [String]) -> String {
        guard !lines.isEmpty else { return "" }
        return "\r\u{1B}[K" + String(repeating: "\u{1B}[1A\u{1B}[K", count: lines.count - 1)
    }

    private static func put(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Prints a line per finished mailbox (the cron-friendly form).
struct ConsoleObserver: RunObserver {
    let console: Console
    let quiet: Bool

    func mailboxStarted(_ mailbox: Plan.Mailbox) {}

    func mailboxFinished(_ r: MailboxResult) {
        if quiet && r.ok && r.delivered == 0 && r.duplicate == 0 && r.reconciled == 0 && r.newlyVanished == 0 {
            return
        }
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
        if r.newlyVanished > 0 { text += ", \(r.newlyVanished) VANISHED from the server before delivery" }
        if let doubt = r.leftInDoubt?.count {
            text +=
                ", \(doubt) \(doubt == 1 ? "message" : "messages") in doubt at the IMAP target, left for a later "
                + "run so \(doubt == 1 ? "it is" : "they are") not delivered twice"
        }
        text += String(format: " [%.1f s]", r.seconds)
        if let waiting = r.waiting { text += "\n    waiting: \(waiting)" }
        if let error = r.error {
            text +=
                (r.errorKind == .transient ? "\n    deferred (transient, retried next run): " : "\n    stopped: ")
                + error
        }
        return text
    }
}
