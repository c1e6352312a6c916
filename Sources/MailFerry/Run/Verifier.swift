import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// `mailferry verify`: every message on the legacy servers (their UIDL listing now) compared with the state and with
/// its target. Changes nothing: no DELE (the POP3 session ends with QUIT), no state change, no folder created;
/// Maildirs are only listed and read.
///
/// The state is read one mailbox at a time (its rows from every state file, merged), so memory follows the largest
/// mailbox, not the plan.
public final class Verifier: Sendable {
    public let plan: Plan
    /// The state files (the plan's and its shards', or `--state`), existing and up to date (`StateFiles.prepare`).
    let stateFiles: [String]

    public init(plan: Plan, stateFiles: [String]) {
        self.plan = plan
        self.stateFiles = stateFiles
    }

    /// One mailbox's part of the verdict.
    struct Outcome {
        var mailbox: VerifyReport.Mailbox
        var missing: [VerifyReport.Finding] = []
        var duplicates: [VerifyReport.Finding] = []
        /// Messages whose POP3 UIDL in a `keepPOP3UIDL` Maildir is not the legacy one.
        var wrongUIDLs: [VerifyReport.Finding] = []
    }

    /// A delivery the state says was made: what to look for in the target.
    struct Expected {
        var uidl: String
        var address: String
        var token: String
        var targetRef: String?
        var size: Int?
        var sha256: String?
        var messageID: String?
        var dateHeader: String?
        /// The UIDL the legacy server lists the message under now, for a person's own message (not a routed copy).
        var pop3UIDL: String? = nil
    }

    public func run(parallel: Int) -> VerifyReport {
        let outcomes = Mutex<[String: Outcome]>([:])
        let sources = plan.sources
        let pool = WorkerPool(jobs: plan.mailboxes, group: { $0.source }, limit: { sources[$0]?.maxConnections ?? 1 })
        pool.run(threads: min(max(1, parallel), max(1, plan.mailboxes.count))) { mailbox in
            let outcome = self.verify(mailbox)
            outcomes.withLock { $0[mailbox.key] = outcome }
        }
        let collected = outcomes.withLock { $0 }
        let ordered = plan.mailboxes.compactMap { collected[$0.key] }
        var report = VerifyReport(
            plan: plan.name, verifiedAt: Date(), stateFiles: stateFiles,
            mailboxes: ordered.map(\.mailbox), missing: ordered.flatMap(\.missing),
            duplicates: ordered.flatMap(\.duplicates), exitCode: 0)
        let wrong = ordered.flatMap(\.wrongUIDLs)
        if ordered.contains(where: { $0.mailbox.uidlsKept != nil }) { report.wrongUIDLs = wrong }
        // The command line sets the exit code from `complete` (its exit codes are its own).
        report.exitCode = report.complete ? 0 : 1
        return report
    }

    func verify(_ mailbox: Plan.Mailbox) -> Outcome {
        let kind = plan.targets[mailbox.target]?.kind.kindName ?? "?"
        var outcome = Outcome(
            mailbox: VerifyReport.Mailbox(
                key: mailbox.key, address: mailbox.address,
                target: mailbox.target, targetKind: kind))
        do {
            let entries = try listing(mailbox)
            outcome.mailbox.onServer = entries.count
            var expected: [Expected] = []
            let state = try StateFiles.readMessages(stateFiles, mailbox: mailbox.key)
            let rows = Dictionary(
                (state.messages[mailbox.key] ?? []).map { ($0.uidl, $0) }, uniquingKeysWith: { a, _ in a })
            for entry in entries {
                guard let row = rows[entry.uidl] else {
                    missing(
                        &outcome, entry.uidl, entry.size,
                        "not migrated yet: not in the state (arrived after the last run?)")
                    continue
                }
                switch row.state {
                case .delivered, .removed:
                    var made = deliveries(of: row, mailbox: mailbox, routed: state.routed[mailbox.key] ?? [:])
                    if made.count == 1 && made[0].uidl == row.uidl { made[0].pop3UIDL = legacyPOP3UIDL(entry.uidl) }
                    expected += made
                case .duplicate:
                    let original = row.duplicateOf.flatMap { rows[$0] }
                    if let original, [.delivered, .removed].contains(original.state) {
                        outcome.mailbox.inTarget += 1
                    } else {
                        missing(
                            &outcome, row.uidl, row.size,
                            "same bytes as \(row.duplicateOf ?? "?"), which is not delivered")
                    }
                case .listed:
                    missing(&outcome, row.uidl, row.size ?? entry.size, "not delivered yet (waiting for the next run)")
                case .delivering:
                    missing(
                        &outcome, row.uidl, row.size,
                        "in doubt: a delivery was interrupted; the next run settles it with the target")
                case .deferred:
                    missing(
                        &outcome, row.uidl, row.size ?? entry.size,
                        "deferred (\(row.errorKind?.rawValue ?? "?"))"
                            + (row.lastError.map { ": \($0)" } ?? "") + "; retried by a later run")
                case .failed:
                    missing(
                        &outcome, row.uidl, row.size ?? entry.size,
                        (row.quarantined ? "quarantined" : "failed") + " (\(row.errorKind?.rawValue ?? "?"))"
                            + (row.lastError.map { ": \($0)" } ?? ""))
                }
            }
            try check(expected, mailbox: mailbox, &outcome)
        } catch {
            outcome.mailbox.error = ErrorText.sentence(error)
        }
        return outcome
    }

    func missing(_ outcome: inout Outcome, _ uidl: String, _ size: Int?, _ detail: String) {
        outcome.mailbox.missing += 1
        outcome.missing.append(
            VerifyReport.Finding(
                mailbox: outcome.mailbox.key, address: outcome.mailbox.address,
                uidl: uidl, size: size, detail: detail))
    }

    /// The deliveries a delivered row stands for: its own, or for a catch-all message each routed delivery.
    func deliveries(
        of row: StateSnapshot.Message, mailbox: Plan.Mailbox,
        routed: [String: [StateSnapshot.Message]]
    ) -> [Expected] {
        let children = routed[row.uidl] ?? []
        let rows = children.isEmpty ? [row] : children
        return rows.map { child in
            Expected(
                uidl: children.isEmpty ? row.uidl : "\(row.uidl) → \(child.address ?? "?")",
                address: child.address ?? mailbox.address, token: child.token ?? "",
                targetRef: child.targetRef, size: child.size ?? row.size, sha256: child.sha256 ?? row.sha256,
                messageID: child.messageID ?? row.messageID, dateHeader: child.dateHeader ?? row.dateHeader)
        }
    }

    /// Logs in to the mailbox's source and lists it: UIDLs (or header fingerprints, as a run makes them).
    func listing(_ mailbox: Plan.Mailbox) throws -> [POP3Entry] {
        let session = try SourceSession.reading(mailbox, plan: plan)
        let (client, source) = (session.client, session.source)
        defer { client.quit() }
        let listing = try client.maildrop()
        guard !listing.hasUIDL else { return listing.entries }
        guard source.withoutUIDL == .headerFingerprint else {
            throw MailError(.permanent, "the server does not support UIDL, so its messages cannot be matched")
        }
        var entries = listing.entries
        for index in entries.indices {
            entries[index].uidl = "hdr:" + (try client.headerFingerprint(entries[index].number)).prefix(40)
        }
        return entries
    }

    // MARK: - Targets

    func check(_ expected: [Expected], mailbox: Plan.Mailbox, _ outcome: inout Outcome) throws {
        guard let target = plan.targets[mailbox.target] else {
            throw MailError(.local, "no target named \(mailbox.target)")
        }
        switch target.kind {
        case .maildir(let template, _, let keepPOP3UIDL):
            var routed = mailbox
            for (address, group) in Dictionary(grouping: expected, by: \.address).sorted(by: { $0.key < $1.key }) {
                routed.address = address
                let root = try maildirLocation(template, mailbox: routed).path
                let found = checkMaildir(root, group, &outcome)
                if keepPOP3UIDL { checkUIDLs(root, group, found: found, &outcome) }
            }
        case .imap:
            for (address, group) in Dictionary(grouping: expected, by: \.address).sorted(by: { $0.key < $1.key }) {
                guard let imap = try plan.delivery(for: mailbox, address: address) as? IMAPDelivery else { continue }
                defer { imap.close() }
                checkIMAP(imap, group, &outcome)
            }
        case .lmtp, .smtp:
            // An LMTP or SMTP server hands messages on; nothing can be read back.
            outcome.mailbox.notVerifiable += expected.count
        }
    }

    /// Maildir: the file named by the delivery token is in new/ or cur/ (a reader may have moved it and added
    /// flags). A second file with the same token, or another file with exactly the bytes of a delivered message,
    /// is a duplicate.
    /// Returns the files found, by token.
    @discardableResult
    func checkMaildir(_ root: String, _ expected: [Expected], _ outcome: inout Outcome) -> [String: [String]] {
        var byBase: [String: [String]] = [:]
        var files: [(name: String, size: Int)] = []
        for sub in ["new", "cur"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(sub)")) ?? [] {
                byBase[String(name.prefix { $0 != "," && $0 != ":" }), default: []].append("\(sub)/\(name)")
                var info = stat()
                if stat("\(root)/\(sub)/\(name)", &info) == 0 { files.append(("\(sub)/\(name)", Int(info.st_size))) }
            }
        }
        let tokens = Set(expected.map(\.token))
        var bySize: [Int: [Expected]] = [:]
        for item in expected {
            let found = byBase[item.token] ?? []
            if found.isEmpty {
                missing(
                    &outcome, item.uidl, item.size,
                    "delivered per state (\(item.targetRef ?? "?")), but the "
                        + "file is not in the Maildir \(root)")
                continue
            }
            outcome.mailbox.inTarget += 1
            if found.count > 1 {
                duplicate(&outcome, item, "\(found.count) files: " + found.sorted().joined(separator: ", "))
            }
            if let size = item.size { bySize[size, default: []].append(item) }
        }
        // Other files with the size of a delivered message: hashed, and the same bytes are a second copy.
        for file in files.sorted(by: { $0.name < $1.name }) {
            let base = String((file.name as NSString).lastPathComponent.prefix { $0 != "," && $0 != ":" })
            guard !tokens.contains(base), let candidates = bySize[file.size],
                let data = FileManager.default.contents(atPath: "\(root)/\(file.name)")
            else { continue }
            let hash = SHA256Hasher.hex([UInt8](data))
            if let original = candidates.first(where: { $0.sha256 == hash }) {
                duplicate(&outcome, original, "another copy with the same bytes: \(file.name)")
            }
        }
        return byBase
    }

    /// IMAP: searched by Message-ID (or Date) and size in the target folder, read-only. A message that cannot be
    /// searched for (no Message-ID, no Date) is counted as not verifiable.
    func checkIMAP(_ imap: IMAPDelivery, _ expected: [Expected], _ outcome: inout Outcome) {
        let attempts = expected.map {
            InDoubtAttempt(
                token: $0.token, messageID: $0.messageID, size: $0.size,
                dateHeader: $0.dateHeader)
        }
        let found: [String: [UInt32]]
        do {
            found = try imap.locate(attempts)
        } catch {
            outcome.mailbox.error = "target: " + ErrorText.sentence(error)
            return
        }
        for item in expected {
            guard let uids = found[item.token] else {
                outcome.mailbox.notVerifiable += 1
                continue
            }
            if uids.isEmpty {
                missing(
                    &outcome, item.uidl, item.size,
                    "delivered per state (\(item.targetRef ?? "?")), but not "
                        + "found in \(imap.settings.folder) by Message-ID and size")
                continue
            }
            outcome.mailbox.inTarget += 1
            if uids.count > 1 {
                duplicate(
                    &outcome, item,
                    "\(uids.count) copies in \(imap.settings.folder) (UIDs "
                        + uids.map(String.init).joined(separator: ", ") + ")")
            }
        }
    }

    func duplicate(_ outcome: inout Outcome, _ item: Expected, _ detail: String) {
        outcome.mailbox.duplicates += 1
        outcome.duplicates.append(
            VerifyReport.Finding(
                mailbox: outcome.mailbox.key, address: item.address,
                uidl: item.uidl, size: item.size, detail: detail))
    }
}
