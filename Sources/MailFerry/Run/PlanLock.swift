import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// An exclusive lock per plan (flock on `<state>.lock`), so two runs from cron never work on the same mailboxes.
/// The kernel drops it when the process dies, however it dies: no stale locks.
public final class PlanLock {
    private let fd: Int32
    public let path: String

    /// Who holds a lock, as written into the lock file by its holder.
    public struct Busy: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        public var description: String {
            "another mailferry run holds \(path)" + (holder.isEmpty ? "" : " (\(holder))")
        }
    }

    /// The lock of the plan whose state database is `statePath` (`<state>.lock`), its folder created (0700) when
    /// missing: what `run` and `adopt` hold while they change the state.
    public static func forState(_ statePath: String) throws -> PlanLock {
        try FileManager.default.createDirectory(
            atPath: (statePath as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        return try PlanLock(path: statePath + ".lock")
    }

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MailError(.local, "cannot open lock file \(path): \(errnoText())") }
        // An older lock file keeps its mode through O_CREAT; it names the holder's pid, and is ours to make private.
        fchmod(fd, 0o600)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder =
                (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw Busy(path: path, holder: sanitizeForDisplay(holder))
        }
        let note = "pid \(getpid()) since \(UTCDate.string(Date(), .iso8601))\n"
        ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
