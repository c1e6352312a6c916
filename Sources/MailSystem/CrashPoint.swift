import Foundation
import Glibc
import MailCore
import Synchronization

/// Named places where a test can make the process die at once, as if killed: `MAILFERRY_CRASH_AT=name` kills at
/// the first hit, `name@N` at the N-th. Off (one environment lookup at start) unless the variable is set.
public enum CrashPoint {
    private static let setting: (name: String, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["MAILFERRY_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let hits = Atomic(0)

    /// Whether a test armed this crash point (so a caller can set up the moment, e.g. a half-sent literal).
    public static func armed(_ name: String) -> Bool { setting?.name == name }

    public static func hit(_ name: String) {
        guard let setting, setting.name == name else { return }
        if hits.add(1, ordering: .relaxed).newValue == setting.count {
            kill(getpid(), SIGKILL)
        }
    }
}
