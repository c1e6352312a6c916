import Glibc
import Synchronization

/// SIGINT/SIGTERM, as a flag every layer may read: the runner stops taking new messages, and a socket waiting
/// for a server gives up within a fraction of a second instead of sitting out its timeout.
public enum StopSignal {
    /// The signal that asked us to stop, or 0.
    static let received = Atomic<Int32>(0)

    public static var requested: Bool { received.load(ordering: .relaxed) != 0 }
    public static var signal: Int32 { received.load(ordering: .relaxed) }

    /// Installs the handlers. Only an atomic store happens in the handler (async-signal-safe).
    public static func install() {
        Glibc.signal(SIGINT) { sig in StopSignal.received.store(sig, ordering: .relaxed) }
        Glibc.signal(SIGTERM) { sig in StopSignal.received.store(sig, ordering: .relaxed) }
    }

    /// Exit code for an interrupted run: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    public static var exitCode: Int32 { 128 + signal }
}
