import Glibc
import MailCore
import Synchronization

/// SIGINT/SIGTERM, as a flag every layer may read: the runner stops taking new messages, and a socket waiting
/// for a server gives up once the stop's short grace is over instead of sitting out its timeout.
public enum StopSignal {
    /// The signal that asked us to stop, or 0.
    static let received = Atomic<Int32>(0)

    public static var requested: Bool { received.load(ordering: .relaxed) != 0 }

    /// Seconds a socket keeps waiting for its server after a stop request: enough for the message in flight to
    /// finish on a healthy connection and for each POP3 session to end with QUIT; a slow one is abandoned after it.
    public static let grace = 2.0
    /// When a waiting socket first saw the stop request (CLOCK_MONOTONIC, milliseconds), or 0.
    static let seenAt = Atomic<Int64>(0)

    /// A stop was requested and its grace is over: waiting sockets give up now.
    public static var graceOver: Bool {
        guard requested else { return false }
        let ms = Int64(monotonicSeconds() * 1000) + 1
        let (stored, original) = seenAt.compareExchange(expected: 0, desired: ms, ordering: .relaxed)
        return ms - (stored ? ms : original) > Int64(grace * 1000)
    }
    public static var signal: Int32 { received.load(ordering: .relaxed) }

    /// Installs the handlers. Only an atomic store happens in the handler (async-signal-safe).
    public static func install() {
        Glibc.signal(SIGINT) { sig in StopSignal.received.store(sig, ordering: .relaxed) }
        Glibc.signal(SIGTERM) { sig in StopSignal.received.store(sig, ordering: .relaxed) }
    }

    /// Exit code for an interrupted run: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    public static var exitCode: Int32 { 128 + signal }
}

/// Seconds on the monotonic clock (for intervals: immune to the wall clock being set).
package func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
