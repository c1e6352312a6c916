import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Writes a run's reports: `<run-id>.json` for machines and `<run-id>.md` for people, in the plan's reports folder.
/// Files are written to a temporary name, synced and renamed, so a reader never sees half a report.
public enum ReportWriter {
    public static func write(_ summary: RunSummary, to folder: String) throws -> (json: String, markdown: String) {
        try createFolder(folder)
        let jsonPath = "\(folder)/\(summary.runID).json"
        let markdownPath = "\(folder)/\(summary.runID).md"
        try writeAtomically(json(summary), to: jsonPath)
        try writeAtomically(Data(markdown(summary).utf8), to: markdownPath)
        return (jsonPath, markdownPath)
    }

    /// Removes the run reports (`<run-id>.json`, `<run-id>.md`) of all but the newest `keep` runs of the same kind
    /// as `runID` (the plan's own runs, or one shard's) in `folder`; nothing else there is touched. Returns the
    /// files removed. `keep` 0 keeps everything.
    @discardableResult
    public static func prune(folder: String, keep: Int, like runID: String) -> Int {
        guard keep > 0, let group = runGroup(runID) else { return 0 }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var runs: [String: [String]] = [:]
        for name in names {
            let run: Substring
            if name.hasSuffix(".json") {
                run = name.dropLast(5)
            } else if name.hasSuffix(".md") {
                run = name.dropLast(3)
            } else {
                continue
            }
            guard runGroup(run) == group else { continue }
            runs[String(run), default: []].append(name)
        }
        // Run ids start with their UTC start time to the millisecond: their order is the runs' order.
        var removed = 0
        // The run just written stays whatever the clock did.
        for run in runs.keys.sorted(by: >).dropFirst(keep) where run != runID {
            for name in runs[run]! where unlink("\(folder)/\(name)") == 0 { removed += 1 }
        }
        return removed
    }

    /// The kind of run a run id names: "" for the plan's own runs, "-shard-K-of-N" for a shard's; nil when the
    /// text is not a run id (`yyyyMMdd'T'HHmmss.SSS'Z'`, then the shard suffix if any).
    static func runGroup(_ text: some StringProtocol) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "."),
            bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        let digits = Array(0..<8) + Array(9..<15) + Array(16..<19)
        guard digits.allSatisfy({ bytes[$0].isASCIIDigit }) else { return nil }
        let suffix = String(decoding: bytes[20...], as: UTF8.self)
        if suffix.isEmpty { return "" }
        guard suffix.hasPrefix("-shard-"), StateFiles.shardNumbers(suffix.dropFirst(7)[...]) != nil else { return nil }
        return suffix
    }

    public static func json(_ summary: RunSummary) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(summary)
    }

    /// The report a person reads: totals, one table row per mailbox, then a section for each kind of thing worth a
    /// look (each left out when there is none), in the order an admin works through them.
    public static func markdown(_ s: RunSummary) -> String {
        var out = headline(s)
        out += mailboxTable(s)
        out += vanishedSection(s)
        out += envelopeSection(s)
        let routed = s.mailboxes.reduce(0) { $0 + $1.routed }
        if routed > 0 {
            out += "\nCatch-all messages were routed in " + counted(routed, "delivery") + " to people's mailboxes.\n"
        }
        out += routingSection(s)
        out += setAsideSection(s)
        out += possibleDuplicatesSection(s)
        out += inDoubtSection(s)
        out += notesSection(s)
        out += problemsSection(s)
        out +=
            s.removed == 0
            ? "\nNothing was deleted from the legacy server.\n"
            : "\n" + counted(s.removed, "message") + " \(s.removed == 1 ? "was" : "were") deleted from the legacy "
                + "server under the plan's retention policy, each "
                + "confirmed delivered long enough before.\n"
        out += goneAfterDeliveryLine(s)
        return out
    }

    /// The title and the run's totals.
    static func headline(_ s: RunSummary) -> String {
        var out = "# mailferry run \(s.runID) — plan \(s.plan)" + (s.shard.map { ", shard \($0)" } ?? "") + "\n\n"
        out += "- started: \(iso(s.startedAt)), finished: \(iso(s.finishedAt)) "
        out += "(\(String(format: "%.1f", s.seconds)) s)\n"
        out += "- outcome: \(outcomeText(s))\n"
        // Deferred, failed, quarantined and what is left count every message of these mailboxes as the state has
        // it after the run (what `status` shows), not only this run's: a message waiting for its next try is
        // deferred whichever run deferred it.
        let standing = s.standing
        out += "- delivered: " + counted(s.delivered, "message") + ", \(formatBytes(s.bytes)); "
        out += "duplicates skipped: \(s.duplicate); "
        out += "deferred: \(standing.deferred); failed: \(standing.failed); quarantined: \(standing.quarantined); "
        out += "deleted at the source (retention): \(s.removed); in-doubt attempts confirmed: \(s.reconciled); "
        out += "left for a later run: \(standing.pending + standing.inDoubt + standing.deferred)\n"
        if s.newlyVanished > 0 { out += "- vanished from the server before delivery: \(s.newlyVanished) (see below)\n" }
        out += "\n"
        return out
    }

    /// One row per mailbox of this run.
    static func mailboxTable(_ s: RunSummary) -> String {
        var out = "| mailbox | source | on server | new | delivered | bytes | duplicate | deferred | failed "
        out += "| seconds |\n"
        out += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in s.mailboxes {
            // Deferred and failed as the state has them after the run (as in the totals above).
            let deferred = m.standing?.deferred ?? m.deferred
            let failed = m.standing?.failed ?? m.failed
            out += "| \(cell(m.address)) | \(cell(m.key)) | \(m.onServer.map(String.init) ?? "–") | \(m.new) | "
            out += "\(m.delivered) | \(formatBytes(m.bytes)) | \(m.duplicate) | \(deferred) | \(failed) | "
            out += String(format: "%.1f", m.seconds) + " |\n"
        }
        return out
    }

    /// How many envelopes were recovered from which trace headers, over all mailboxes.
    static func envelopeSection(_ s: RunSummary) -> String {
        var sources: [String: Int] = [:]
        for m in s.mailboxes { for (key, count) in m.envelopeSources { sources[key, default: 0] += count } }
        guard !sources.isEmpty else { return "" }
        var out = "\n## Envelopes recovered\n\nHow the sender, recipients and arrival date of this run's messages "
        out += "were recovered from their trace headers (trusted: added by the provider's own servers).\n\n"
        for (key, count) in sources.sorted(by: { $0.key < $1.key }) { out += "- \(cell(key)): \(count)\n" }
        return out
    }

    /// Messages not delivered again because their bytes match one delivered under a UIDL now gone.
    static func setAsideSection(_ s: RunSummary) -> String {
        let setAside = s.mailboxes.compactMap { m in m.duplicates.map { (m, $0) } }
        guard !setAside.isEmpty else { return "" }
        var out = "\n## Set aside as duplicates\n\nThese messages have the bytes of a message delivered earlier "
        out += "whose UIDL is gone from the server (a renumbered maildrop): they were not delivered again. Two UIDLs "
        out += "the server lists together are two messages and both are delivered.\n\n"
        out += "| mailbox | message (UIDL) | same bytes as (UIDL) |\n|---|---|---|\n"
        for (m, list) in setAside {
            for entry in list.entries {
                out += "| \(cell(m.address)) | \(cell(entry.uidl)) | \(cell(entry.duplicates)) |\n"
            }
        }
        for (m, list) in setAside where list.notListed > 0 {
            out += "\n\(list.notListed) more from \(cell(m.address)) not listed.\n"
        }
        return out
    }

    /// Deliveries repeated after a crash at a target that could not say whether it had them.
    static func possibleDuplicatesSection(_ s: RunSummary) -> String {
        let doubtful = s.mailboxes.filter { !$0.possibleDuplicates.isEmpty }
        guard !doubtful.isEmpty else { return "" }
        var out = "\n## Possible duplicates\n\nA crash left these deliveries in doubt at a target that cannot be "
        out += "asked (LMTP, SMTP) or searched for (IMAP, a message with neither Message-ID nor Date and no "
        out += "provenanceHeader); they were delivered again, so the person may have them twice.\n\n"
        for m in doubtful {
            out += "- \(cell(m.address)): " + m.possibleDuplicates.map(cell).joined(separator: ", ") + "\n"
        }
        return out
    }

    /// IMAP appends still in doubt, held back for a later run.
    static func inDoubtSection(_ s: RunSummary) -> String {
        let held = s.mailboxes.filter { $0.leftInDoubt != nil }
        guard !held.isEmpty else { return "" }
        var out = "\n## In doubt at the IMAP target\n\nA crash left these APPENDs in doubt and the folder does not "
        out += "show them yet. The server may still be storing what the dead connection sent, so they are left for a "
        out += "later run so they are not delivered twice: it asks the folder again and appends only what is still "
        out += "missing once the target's settleSeconds have passed. Until then the run ends with exit 1.\n\n"
        for m in held {
            out += "- \(cell(m.address)): " + (m.leftInDoubt ?? []).map(cell).joined(separator: ", ") + "\n"
        }
        return out
    }

    /// What mailboxes are waiting for, and their notes.
    static func notesSection(_ s: RunSummary) -> String {
        let noted = s.mailboxes.filter { $0.waiting != nil || !$0.notes.isEmpty }
        guard !noted.isEmpty else { return "" }
        var out = "\n## Notes\n\n"
        for m in noted {
            if let waiting = m.waiting { out += "- \(cell(m.address)) waiting: \(cell(waiting))\n" }
            for line in m.notes { out += "- \(cell(m.address)): \(cell(line))\n" }
        }
        return out
    }

    /// Mailboxes that stopped, and messages that failed.
    static func problemsSection(_ s: RunSummary) -> String {
        let troubled = s.mailboxes.filter { $0.error != nil || !$0.messageErrors.isEmpty }
        guard !troubled.isEmpty else { return "" }
        var out = "\n## Problems\n\n"
        for m in troubled {
            if let error = m.error {
                out += "- **\(cell(m.address))** stopped (\(m.errorKind?.rawValue ?? "error")): \(cell(error))\n"
            }
            for line in m.messageErrors { out += "- \(cell(m.address)): \(cell(line))\n" }
        }
        return out
    }

    /// Catch-all deliveries to the fallback mailbox or resting on a guess: the message, where it went and why.
    static func routingSection(_ s: RunSummary) -> String {
        let routed = s.mailboxes.compactMap { m in m.routingProvenance.map { (m, $0) } }
        guard !routed.isEmpty else { return "" }
        var out = "\n## Routing to check\n\nCatch-all deliveries that rest on less than a trusted envelope recipient: "
        out += "to the fallback mailbox (no rule, alias or rewrite placed the recipient), or guessed (from To/Cc, or "
        out += "with no trust boundary). The first \(MailboxResult.RoutingProvenance.listLimit) per mailbox are listed."
        out += "\n\n"
        for (m, p) in routed {
            out += "- \(cell(m.address)): \(p.fallback) to the fallback, \(p.guessed) guessed\n"
        }
        out += "\n| mailbox | message (UIDL) | delivered to | how | why |\n|---|---|---|---|---|\n"
        for (m, p) in routed {
            for entry in p.deliveries {
                let how = [entry.fallback ? "fallback" : nil, entry.guessed ? "guessed" : nil].compactMap { $0 }
                out += "| \(cell(m.address)) | \(cell(entry.uidl)) | \(textCell(entry.mailbox)) | "
                out += "\(how.joined(separator: ", ")) | \(textCell(entry.reason)) |\n"
            }
        }
        for (m, p) in routed where p.notListed > 0 {
            out += "\n\(p.notListed) more from \(cell(m.address)) not listed.\n"
        }
        return out
    }

    /// "complete (exit 0)", or what keeps it from being complete, from the state after the run.
    static func outcomeText(_ s: RunSummary) -> String {
        if s.interrupted { return "interrupted (exit \(s.exitCode)); rerun to continue" }
        if s.exitCode == 0 { return "complete (exit 0)" }
        if s.newlyVanished > 0 && s.complete {
            return "incomplete (exit \(s.exitCode)): mail vanished from the server before it was copied, see below"
        }
        let standing = s.standing
        let open = [
            (standing.pending, "pending"), (standing.inDoubt, "in doubt"), (standing.deferred, "deferred"),
            (standing.failed, "failed"), (standing.quarantined, "quarantined"),
        ].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        var text = "incomplete (exit \(s.exitCode)): "
        if !open.isEmpty { text += "not yet delivered: " + open.joined(separator: ", ") + "; " }
        let problems = s.mailboxes.contains { $0.error != nil || !$0.messageErrors.isEmpty }
        return text + (problems ? "see Problems" : "a later run goes on with them")
    }

    /// Table cells must not break the table or carry markup from server text.
    static func cell(_ text: String) -> String {
        sanitizeForDisplay(text, limit: 500).replacingOccurrences(of: "|", with: "\\|")
    }

    /// A cell of text that may hold Unicode worth keeping ("→", an 8-bit address): control characters escaped.
    static func textCell(_ text: String) -> String {
        RoutePreview.shown(text, limit: 500).replacingOccurrences(of: "|", with: "\\|")
    }

    static func iso(_ date: Date) -> String {
        UTCDate.string(date, .iso8601)
    }

    /// Reports and the dashboard are 0640 (the admin's group may read them, others may not: they name people and
    /// their servers), set on the descriptor before a byte is written: a leftover temporary file keeps its old mode
    /// through O_CREAT, and the umask may be 0.
    static let fileMode: mode_t = 0o640

    /// The reports folder, 0750 when created here.
    package static func createFolder(_ folder: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o750])
        } catch {
            throw MailError(.local, "cannot create the reports folder \(folder): \(ErrorText.cause(error))")
        }
    }

    /// Writes `data` to a temporary file beside `path` (`<path>.tmp-<pid>`), fsyncs it and renames it over `path`.
    package static func writeAtomically(_ data: Data, to path: String, mode: mode_t = fileMode) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode)
        // Errors name the file being written, not its temporary name (which carries a pid).
        guard fd >= 0 else { throw MailError(.local, "cannot write \(path): \(errnoText())") }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else {
            let cause = errnoText()
            unlink(temporary)
            throw MailError(.local, "cannot set the mode of \(path): \(cause)")
        }
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = retryingEINTR { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
                if n < 0 {
                    let cause = errnoText()
                    unlink(temporary)
                    throw MailError(.local, "cannot write \(path): \(cause)")
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else {
            let cause = errnoText()
            unlink(temporary)
            throw MailError(.local, "cannot write \(path) (fsync): \(cause)")
        }
        guard rename(temporary, path) == 0 else {
            let cause = errnoText()
            unlink(temporary)
            throw MailError(.local, "cannot write \(path) (renaming it into place): \(cause)")
        }
    }
}
