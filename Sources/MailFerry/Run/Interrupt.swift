import Glibc
import Synchronization

/// SIGINT/SIGTERM handling: the first signal asks workers to stop taking new messages; the message in flight is
/// finished or safely abandoned, the checkpoint is written and the run ends with 130 or 143.
public enum Interrupt {
    /// The signal that asked us to stop, or 0.
    static let received = Atomic<Int32>(0)

    public static var requested: Bool { received.load(ordering: .relaxed) != 0 }
    public static var signal: Int32 { received.load(ordering: .relaxed) }

    /// Installs the handlers. Only an atomic store happens in the handler (async-signal-safe).
    public static func install() {
        Glibc.signal(SIGINT) { sig in Interrupt.received.store(sig, ordering: .relaxed) }
        Glibc.signal(SIGTERM) { sig in Interrupt.received.store(sig, ordering: .relaxed) }
    }

    /// Exit code for an interrupted run: 128 + the signal number.
    static var exitCode: Int32 { 128 + signal }
}
