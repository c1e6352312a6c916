import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Keeps a lost, emptied or swapped state database from re-delivering a whole migration (docs/design.md, "A lost
/// state").
///
/// The state is the migration's memory: a run that starts from an empty one delivers every message again. So each
/// state gets a random id on its first run, and the run writes a small marker naming the plan and that id into the
/// root of every Maildir target it delivers to (`.mailferry-<plan>`, or `.mailferry-<plan>-shard-K-of-N`). Before
/// anything moves, a run (and `adopt`) checks:
/// - a state that is blank (deleted, truncated to 0 bytes, replaced by an empty database) while a Maildir root holds
///   this plan's marker, or (for targets that cannot hold one: IMAP, LMTP, SMTP) while this plan's run reports say
///   it delivered mail, is refused: `adopt` rebuilds it from the sources and targets, `--new-state` starts over;
/// - a state whose id differs from a marker's is refused: it is not the state that delivered there.
package enum StateGuard {
    package struct Refusal: Error, CustomStringConvertible {
        package var description: String

        package init(description: String) {
            self.description = description
        }
    }

    /// The marker's file name in a Maildir target's root.
    static func markerName(_ plan: Plan) -> String {
        let safe = String(
            plan.name.unicodeScalars.map { scalar -> Character in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "-_.".unicodeScalars
                            .contains(scalar))
                    ? Character(scalar) : "_"
            })
        return ".mailferry-\(safe)" + (plan.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? "")
    }

    /// The roots of the Maildir targets the run's mailboxes deliver to (each is where a marker goes).
    static func maildirRoots(_ plan: Plan) -> [String] {
        var roots: [String] = []
        for mailbox in plan.selectedMailboxes {
            guard case .maildir(let template, _, _)? = plan.targets[mailbox.target]?.kind,
                let location = try? maildirLocation(template, mailbox: mailbox)
            else { continue }
            let root = location.root.isEmpty ? "/" : location.root
            if !roots.contains(root) { roots.append(root) }
        }
        return roots
    }

    /// The state id a marker names, or nil when there is no marker.
    static func markerID(root: String, plan: Plan) -> String? {
        guard let data = FileManager.default.contents(atPath: root + "/" + markerName(plan)) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("state ") {
            return String(line.dropFirst("state ".count)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Refuses a state that cannot be this plan's memory; see the type's comment. `newState` accepts a blank state
    /// although the plan delivered before (the admin starts over on purpose).
    package static func check(plan: Plan, store: Store, newState: Bool) throws {
        let id = try store.identity()
        // A state with an id was stamped by a run of this plan (before its marker was written): however little it
        // holds (a run killed right after stamping), it is no lost state, and the markers tell whether it is the
        // right one.
        let blank = try id == nil && store.isBlank()
        var markers: [(root: String, id: String)] = []
        for root in maildirRoots(plan) {
            if let found = markerID(root: root, plan: plan) { markers.append((root, found)) }
        }
        if !blank, let id, let other = markers.first(where: { $0.id != id }) {
            throw Refusal(
                description: "the state database \(plan.statePath) (id \(id)) is not the one that "
                    + "delivered into \(other.root): its marker \(markerName(plan)) names state \(other.id). Running with "
                    + "it would deliver again what the other state delivered. Put the right state file back (from a "
                    + "backup: mailferry backup), or move this one away and rebuild the state with mailferry adopt "
                    + plan.file)
        }
        guard blank, !newState else { return }
        var evidence = markers.map { "a marker of this plan's earlier runs in \($0.root) (\(markerName(plan)))" }
        if evidence.isEmpty, let reports = deliveringReports(plan) {
            evidence.append(reports)
        }
        guard !evidence.isEmpty else { return }
        throw Refusal(
            description: "the state database \(plan.statePath) is missing or empty, but this plan has "
                + "delivered mail before: " + evidence.joined(separator: "; ") + ". Running now would deliver every "
                + "message again. If the state was lost, rebuild it from the sources and the targets with mailferry "
                + "adopt \(plan.file) (it delivers nothing), then run again. If the targets were emptied and you mean "
                + "to start over, run with --new-state.")
    }

    /// Gives the state its id (a marker's, for a state that predates ids or one `adopt` rebuilt; a new one when
    /// `newState` starts over) and writes the marker into every Maildir root that lacks it or names another id
    /// (creating the root as a delivery would). Called by a run that passed `check`, before it delivers.
    package static func stamp(plan: Plan, store: Store, newState: Bool = false) throws {
        let roots = maildirRoots(plan)
        let preferred = newState ? nil : roots.lazy.compactMap { markerID(root: $0, plan: plan) }.first
        let id = try store.ensureIdentity(preferred: preferred)
        for root in roots where markerID(root: root, plan: plan) != id {
            try writeMarker(root: root, plan: plan, id: id)
        }
    }

    static func writeMarker(root: String, plan: Plan, id: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: root, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw MailError(.local, "cannot create the Maildir root \(root): \(ErrorText.cause(error))")
        }
        let text =
            "mailferry plan \(plan.name)\nstate \(id)\nstate file \(plan.statePath)\n"
            + "This file tells mailferry which state database delivered into this folder. Keep it.\n"
        let path = root + "/" + markerName(plan)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MailError(.local, "cannot write the marker \(path): \(errnoText())") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(fd) == 0
        let closed = close(fd) == 0
        guard synced, closed, rename(temporary, path) == 0 else {
            let error = MailError(.local, "cannot write the marker \(path): \(errnoText())")
            unlink(temporary)
            throw error
        }
        let folder = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// "N run reports in FOLDER say this plan delivered M messages", or nil: evidence of earlier deliveries for
    /// targets that cannot carry a marker. Only this run's reports count (the same shard, or none).
    static func deliveringReports(_ plan: Plan) -> String? {
        let folder = plan.reportsPath
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        let suffix = plan.shard.map { "-shard-\($0.index)-of-\($0.count).json" }
        var reports = 0
        var delivered = 0
        for name in names where name.hasSuffix(".json") && name != "index.json" {
            if let suffix {
                guard name.hasSuffix(suffix) else { continue }
            } else if name.contains("-shard-") {
                continue
            }
            guard let data = FileManager.default.contents(atPath: folder + "/" + name),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                (object["plan"] as? String) == plan.name,
                let mailboxes = object["mailboxes"] as? [[String: Any]]
            else { continue }
            let count = mailboxes.reduce(0) { $0 + (($1["delivered"] as? Int) ?? 0) + (($1["routed"] as? Int) ?? 0) }
            if count > 0 {
                reports += 1
                delivered += count
            }
        }
        guard reports > 0 else { return nil }
        return counted(reports, "run report") + " in \(folder) \(reports == 1 ? "says" : "say") it delivered "
            + counted(delivered, "message")
    }

    /// A mailbox whose target or target mailbox changed after deliveries is refused: what was delivered stays in the
    /// old place, so the move must be meant (`run --rebind KEY`). Returns, per mailbox rebound now, what the run
    /// report says of it.
    package static func checkBindings(plan: Plan, store: Store, rebind: Set<String>) throws -> [String: String] {
        var problems: [String] = []
        var notes: [String: String] = [:]
        for mailbox in plan.selectedMailboxes {
            guard let bound = try store.binding(key: mailbox.key), bound.deliveries > 0,
                bound.target != mailbox.target || (bound.address ?? mailbox.address) != mailbox.address
            else {
                continue
            }
            let was = "target \(bound.target), mailbox \(bound.address ?? "?")"
            let now = "target \(mailbox.target), mailbox \(mailbox.address)"
            if rebind.contains(mailbox.key) || rebind.contains("all") {
                let note =
                    "moved from \(was) to \(now) (run --rebind, \(UTCDate.string(Date(), .iso8601))): the "
                    + counted(bound.deliveries, "message")
                    + " delivered before \(bound.deliveries == 1 ? "stays" : "stay") "
                    + "there; "
                    + "new mail goes to the new place"
                try store.rebind(key: mailbox.key, target: mailbox.target, address: mailbox.address, note: note)
                notes[mailbox.key] = note
            } else {
                problems.append(
                    "\(mailbox.origin.label.isEmpty ? mailbox.key : mailbox.origin.label) (\(mailbox.key)): "
                        + "moved after " + counted(bound.deliveries, "delivery") + ": it was bound to "
                        + "\(was); the plan now says \(now)")
            }
        }
        guard problems.isEmpty else {
            throw Refusal(
                description: "the plan moves mailboxes that already received mail:\n  "
                    + problems.joined(separator: "\n  ")
                    + "\nWhat was delivered stays where it is; a run would put new "
                    + "mail in the new place. If that is meant, run again with --rebind SOURCE/USER (several: "
                    + "comma-separated, or --rebind all): new mail goes to the new place, the old mail stays, and messages "
                    + "left in doubt are settled where they were attempted. Otherwise put the old target back in the plan."
            )
        }
        return notes
    }
}
