import Foundation
import MailCore
import MailSystem

/// Which state files make up a plan's state: its own (`<stem>.sqlite`) and those `run --shard K/N` writes beside it
/// (`<stem>-shard-K-of-N.sqlite`), where the stem is the state path without `.sqlite`.
public enum StateFiles {
    /// "K-of-N" (digits each) as numbers, or nil: the end of a shard's state file stem (regular expressions would load
    /// ICU, which costs a cron run more than the rest of this).
    package static func shardNumbers(_ text: Substring) -> (k: Int, n: Int)? {
        let parts = text.components(separatedBy: "-of-")
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
            parts.allSatisfy({ $0.utf8.allSatisfy(\.isASCIIDigit) }),
            let k = Int(parts[0]), let n = Int(parts[1])
        else { return nil }
        return (k, n)
    }

    /// The plan's state file and every shard file beside it that exists, in a stable order (own first, then shards
    /// by N and K). The own file is listed even when it does not exist, unless shard files do.
    public static func discover(statePath: String) -> [String] {
        var stem = statePath.hasSuffix(".sqlite") ? String(statePath.dropLast(".sqlite".count)) : statePath
        // A shard's own state path names the same plan: its stem is the plan's.
        if let range = stem.range(of: "-shard-", options: .backwards),
            shardNumbers(stem[range.upperBound...]) != nil
        {
            stem.removeSubrange(range.lowerBound...)
        }
        let statePath = stem + ".sqlite"
        let folder = (stem as NSString).deletingLastPathComponent
        let prefix = (stem as NSString).lastPathComponent + "-shard-"
        var shards: [(n: Int, k: Int, path: String)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? [] {
            guard name.hasPrefix(prefix), name.hasSuffix(".sqlite") else { continue }
            let middle = name.dropFirst(prefix.count).dropLast(".sqlite".count)
            guard let (k, n) = shardNumbers(middle), k < n else { continue }
            shards.append((n, k, folder.isEmpty ? name : folder + "/" + name))
        }
        shards.sort { ($0.n, $0.k) < ($1.n, $1.k) }
        let own = FileManager.default.fileExists(atPath: statePath) || shards.isEmpty ? [statePath] : []
        return own + shards.map(\.path)
    }

    /// Reads `paths` and counts them as one (`status`, the dashboard). Files that do not exist are left out; when
    /// none exists, `StateSnapshot.Missing` names the first.
    public static func read(_ paths: [String]) throws -> StateSummary {
        try StateSummary.read(existing(paths))
    }

    /// Reads and merges every message row of `paths`.
    public static func readMessages(_ paths: [String]) throws -> MergedState {
        MergedState(try existing(paths).map { try StateSnapshot.read(path: $0) })
    }

    /// Reads and merges one mailbox's message rows of `paths` (`verify`, one mailbox at a time).
    public static func readMessages(_ paths: [String], mailbox: String) throws -> MergedState {
        MergedState(try existing(paths).map { try StateSnapshot.read(path: $0, mailbox: mailbox) })
    }

    /// The files of `paths` that exist, each brought up to the current schema (so readers working in parallel
    /// find nothing to migrate); `StateSnapshot.Missing` when none exists.
    public static func prepare(_ paths: [String]) throws -> [String] {
        let files = try existing(paths)
        for path in files { try Store.migrate(try Database(path: path)) }
        return files
    }

    private static func existing(_ paths: [String]) throws -> [String] {
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard !existing.isEmpty else { throw StateSnapshot.Missing(path: paths.first ?? "") }
        return existing
    }
}
