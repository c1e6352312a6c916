import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// `run --shard K/N`: a stable subset of a plan's mailboxes, so one plan can run as N jobs (a Kubernetes Indexed
/// Job's completion index is K, or N cron hosts), each with its own state file and lock.
///
/// A mailbox belongs to shard `FNV-1a-64("<source>/<user>") mod N`: it depends on the mailbox's own identity only,
/// so adding or removing other mailboxes never moves it to another shard (and its checkpoints stay in the state
/// file that has them). Catch-all mailboxes are sharded like the others.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// 0-based: 0 ≤ index < count.
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= 10_000 else {
            throw ShardError("--shard K/N: N must be from 1 to 10000, got \(count)")
        }
        guard index >= 0, index < count else {
            throw ShardError(
                "--shard K/N: K counts from 0, so it must be from 0 to \(count - 1) for N = \(count), "
                    + "got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// "K/N", e.g. "2/8".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) })
        else {
            throw ShardError(
                "--shard wants K/N (this job's index K from 0 to N-1, of N shards), e.g. --shard 0/4; "
                    + "got \"\(sanitizeForDisplay(text))\"")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether the mailbox with this identity (`Plan.Mailbox.key`) is this shard's.
    public func contains(mailboxKey: String) -> Bool {
        Int(Shard.fnv1a(mailboxKey) % UInt64(count)) == index
    }

    /// 64-bit FNV-1a of the UTF-8 bytes: simple, stable across versions and machines (unlike `Hasher`).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The plan's state path without its `.sqlite` extension: what shard state files are named after.
    public static func stem(ofStatePath path: String) -> String {
        path.hasSuffix(".sqlite") ? String(path.dropLast(".sqlite".count)) : path
    }

    /// This shard's state file beside the plan's: `<stem>-shard-K-of-N.sqlite` (`status` and `verify` find and
    /// merge exactly these names).
    public func statePath(forPlanState path: String) -> String {
        "\(Shard.stem(ofStatePath: path))-shard-\(index)-of-\(count).sqlite"
    }

    /// Shard state files that exist beside the plan's state `path`, as (shard, path), sorted.
    public static func existingStateFiles(forPlanState path: String) -> [(shard: Shard, path: String)] {
        let stem = stem(ofStatePath: path)
        let folder = (stem as NSString).deletingLastPathComponent
        let prefix = (stem as NSString).lastPathComponent + "-shard-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        var found: [(shard: Shard, path: String)] = []
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".sqlite") {
            let middle = name.dropFirst(prefix.count).dropLast(".sqlite".count)
            let numbers = middle.components(separatedBy: "-of-")
            guard numbers.count == 2, let k = Int(numbers[0]), let n = Int(numbers[1]),
                let shard = try? Shard(index: k, count: n)
            else { continue }
            found.append((shard, (folder.isEmpty ? "" : folder + "/") + name))
        }
        return found.sorted { ($0.shard.count, $0.shard.index) < ($1.shard.count, $1.shard.index) }
    }

    /// Why a run with `shard` (nil: without `--shard`) must not start, given the state files that exist: a run that
    /// cannot see the checkpoints of an earlier run of the same mailboxes would deliver their messages again.
    public static func mixingProblem(shard: Shard?, planState path: String) -> String? {
        let existing = existingStateFiles(forPlanState: path)
        let unsharded = FileManager.default.fileExists(atPath: path)
        guard let shard else {
            guard !existing.isEmpty else { return nil }
            let counts = Set(existing.map(\.shard.count)).sorted()
            return "this plan has been run in shards (\(existing.map(\.path).prefix(4).joined(separator: ", "))"
                + (existing.count > 4 ? ", …" : "") + "); a run without --shard would not see their checkpoints and "
                + "would deliver those messages again. Run each shard with --shard K/\(counts[0]) (K from 0 to "
                + "\(counts[0] - 1)) instead"
        }
        if unsharded {
            return "this plan has been run without --shard (its state is \(path)); a shard run would not see those "
                + "checkpoints and would deliver those messages again. Keep running it without --shard, or move "
                + "\(path) away only if no message was ever delivered from it"
        }
        if let other = existing.first(where: { $0.shard.count != shard.count }) {
            return "this plan has been run in \(other.shard.count) shards (\(other.path)); with \(shard.count) "
                + "shards mailboxes would move to state files that do not know them and their messages would be "
                + "delivered again. Keep --shard K/\(other.shard.count)"
        }
        return nil
    }
}

public struct ShardError: Error, CustomStringConvertible {
    public let description: String
    init(_ text: String) { description = text }
}
