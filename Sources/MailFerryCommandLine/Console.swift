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
    /// Each line printed starts with the time (`run --timestamps`), so a cron mail or a log says when.
    private let stamping = Mutex(false)
    /// `run --log-format json`: every line is one JSON object (`LogEntry`), with the plan's name once it is known.
    private let json = Mutex<(on: Bool, plan: String?)>((false, nil))

    public init(out: Int32 = 1, err: Int32 = 2) {
        self.out = out
        self.err = err
    }

    public func line(_ text: String) { say(LogEntry(event: "message", message: text)) }
    public func error(_ text: String) { say(LogEntry(.error, event: "message", message: text), toError: true) }

    /// Prints `entry`: its text (stamped when asked) or, under `--log-format json`, its JSON object; on standard
    /// error when `toError`.
    func say(_ entry: LogEntry, toError: Bool = false) {
        let (on, plan) = json.withLock { ($0.on, $0.plan) }
        let text = on ? entry.json(time: Date(), plan: plan) : stamped(entry.message)
        emit(text + "\n", to: toError ? err : out)
    }

    /// From now on, every line is one JSON object (`run --log-format json`); `plan` names the plan in each.
    func logJSON(plan: String?) { json.withLock { $0 = (true, plan) } }

    /// Whether lines are JSON objects (no live view then, and no time stamp before them: the time is a field).
    var logsJSON: Bool { json.withLock { $0.on } }

    /// From now on, every line starts with the UTC time, ISO 8601 to the second: "2026-12-21T09:00:03Z ". A text of
    /// several lines (a mailbox and its error below it, SQLite's complaints) is one entry: its first line gets the
    /// time, the others as many spaces, so the block stays together and lined up.
    func stampLines(_ on: Bool) { stamping.withLock { $0 = on } }

    /// Whether standard output is a terminal (where a person watches, and the time is on the wall).
    var outputIsTerminal: Bool { isatty(out) == 1 }

    private func stamped(_ text: String) -> String {
        guard stamping.withLock({ $0 }) else { return text }
        let time = UTCDate.string(Date(), .iso8601) + " "
        let pad = String(repeating: " ", count: time.count)
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, line in
            (index == 0 ? time : pad) + line
        }.joined(separator: "\n")
    }

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

/// Prints a line per finished mailbox (the cron-friendly form). Under `--quiet`, only what is news: what a mailbox
/// delivered, and its trouble when it starts, changes or ends, with a reminder while it lasts (`QuietEtiquette`).
final class ConsoleObserver: RunObserver, Sendable {
    let console: Console
    let quiet: Bool
    let etiquette: QuietEtiquette?
    private let printed = Mutex(0)

    init(console: Console, quiet: Bool, etiquette: QuietEtiquette? = nil) {
        self.console = console
        self.quiet = quiet
        self.etiquette = etiquette
    }

    /// Mailbox lines printed so far.
    var said: Int { printed.withLock { $0 } }

    func mailboxStarted(_ mailbox: Plan.Mailbox) {}

    func mailboxFinished(_ r: MailboxResult) {
        var text: String
        if let etiquette {
            // Mail that vanished before it was copied is said even when nothing else changed (once: the run that
            // notices it is the only one that counts it).
            let said = etiquette.say(r)
            guard said != nil || r.newlyVanished > 0 else { return }
            text = Self.describe(r) + (said ?? "")
        } else {
            if quiet && r.ok && r.delivered == 0 && r.duplicate == 0 && r.reconciled == 0 && r.newlyVanished == 0 {
                return
            }
            text = Self.describe(r)
        }
        printed.withLock { $0 += 1 }
        console.say(RunLog.mailbox(r, message: text))
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
        if let waitingEarlier = r.standing.map({ $0.deferred - r.deferred }), waitingEarlier > 0 {
            text += ", \(waitingEarlier) deferred earlier (waiting for their next try)"
        }
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
