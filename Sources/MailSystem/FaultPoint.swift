import Foundation
import Glibc
import MailCore
import Synchronization

/// A named file-system call a test makes fail with EIO, as a failing disk (or an NFS server that lost a write-back)
/// does: `MAILFERRY_FAIL_AT=name` fails the first call of that name, `name@N` the N-th; the call is not made (a
/// close still releases its descriptor). A test in the same process gives a delivery its own point instead, so tests
/// running side by side never see each other's faults. Off in production: one environment lookup at start, then a
/// nil check per call.
///
/// The names: `maildir-fsync-file`, `maildir-close-file`, `maildir-rename`, `maildir-fsync-new`,
/// `maildir-fsync-folder` (the parent of a folder just created), `spool-handover` (the rename of a spool file
/// into a Maildir's tmp/) and `pop3-retrieve` (a RETR breaks after its first chunk, as a dropped connection does).
public final class FaultPoint: Sendable {
    public let name: String
    public let hit: Int
    private let hits = Atomic(0)

    public init(_ name: String, hit: Int = 1) {
        self.name = name
        self.hit = hit
    }

    /// The point `MAILFERRY_FAIL_AT` names, if any.
    public static let environment: FaultPoint? = {
        guard let value = ProcessInfo.processInfo.environment["MAILFERRY_FAIL_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", maxSplits: 1)
        return FaultPoint(String(parts[0]), hit: parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()

    /// Whether the call named `call` fails this time.
    package func fails(_ call: String) -> Bool {
        guard call == name else { return false }
        return hits.add(1, ordering: .relaxed).newValue == hit
    }

    /// Whether the point fired: its call was reached and failed.
    public var fired: Bool { hits.load(ordering: .relaxed) >= hit }
}

/// fsync(2), close(2) and renameat(2) on the delivery paths, through one place each, so every result is checked by
/// the caller and a test can make any of them fail (`FaultPoint`).
package enum DurableIO {
    package static func fsync(_ fd: Int32, _ call: String, _ fault: FaultPoint?) -> Int32 {
        if let fault, fault.fails(call) { return failing() }
        return Glibc.fsync(fd)
    }

    /// The descriptor is released either way (POSIX leaves it unspecified after EINTR; Linux always closes it, so
    /// it is never closed twice).
    package static func close(_ fd: Int32, _ call: String, _ fault: FaultPoint?) -> Int32 {
        if let fault, fault.fails(call) {
            Glibc.close(fd)
            return failing()
        }
        return Glibc.close(fd)
    }

    package static func renameat(
        _ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String, _ call: String,
        _ fault: FaultPoint?
    ) -> Int32 {
        if let fault, fault.fails(call) { return failing() }
        return Glibc.renameat(fromFolder, from, toFolder, to)
    }

    private static func failing() -> Int32 {
        errno = EIO
        return -1
    }
}
