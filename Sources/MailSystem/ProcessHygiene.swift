import Glibc
import MailCore

/// What the process itself does so that its memory (passwords, tokens, mail being moved) never lands on disk or in
/// another process: no core dumps, and no ptrace attach by other processes of the same user (SECURITY.md "Process
/// hygiene"). Called first thing by the executable (Sources/mailferry/main.swift), before any secret is read.
public enum ProcessHygiene {
    // <sys/prctl.h>, which the Glibc module does not export.
    private static let prGetDumpable: Int32 = 3
    private static let prSetDumpable: Int32 = 4
    private typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    /// prctl(2), found at run time: it is variadic in C, and the Glibc module does not import it.
    private static let prctl: Prctl? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl").map {
        unsafeBitCast($0, to: Prctl.self)
    }

    /// Turns core dumps off for this process and everything it starts: prctl(PR_SET_DUMPABLE, 0) (no core, no
    /// ptrace by same-uid processes, /proc/self/mem and environ readable by root only) and setrlimit(RLIMIT_CORE)
    /// 0 for the soft and hard limit (inherited by helper programs, which become dumpable again when they exec).
    /// Returns false if either call failed; the process goes on (the state is shown by `mailferry --version
    /// --verbose`).
    @discardableResult
    public static func disableCoreDumps() -> Bool {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        let limited = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0
        let undumpable = prctl.map { $0(prSetDumpable, 0, 0, 0, 0) == 0 } ?? false
        return limited && undumpable
    }

    /// PR_GET_DUMPABLE: 0 not dumpable, 1 dumpable, 2 root-only dumps; nil when prctl is not available.
    public static var dumpable: Int32? {
        guard let prctl else { return nil }
        let value = prctl(prGetDumpable, 0, 0, 0, 0)
        return value < 0 ? nil : value
    }

    /// The soft and hard core file size limits, in bytes (UInt64.max, RLIM_INFINITY, for "unlimited").
    public static var coreLimit: (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0 else { return (.max, .max) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    public static var coreDumpsOff: Bool { dumpable == 0 && coreLimit.soft == 0 && coreLimit.hard == 0 }

    /// One line for `mailferry --version --verbose`: "process: core dumps off (not dumpable, core file size limit
    /// 0)", or what is on, so an admin can see it on the machine that runs the migration.
    public static var statusLine: String {
        let limit = coreLimit
        func text(_ value: UInt64) -> String { value == .max ? "unlimited" : "\(value)" }
        let limits = limit.soft == limit.hard ? text(limit.soft) : "\(text(limit.soft)) (hard \(text(limit.hard)))"
        let dumpableText =
            switch dumpable {
            case 0?: "not dumpable"
            case 1?: "dumpable"
            case 2?: "dumpable by root"
            default: "dumpable: unknown"
            }
        return "process: core dumps " + (coreDumpsOff ? "off" : "ON") + " (\(dumpableText), core file size limit "
            + "\(limits))"
    }

    /// Raises the soft limit on open files to the hard limit. A catch-all mailbox keeps each person's delivery open
    /// while it runs (a Maildir holds three folder descriptors, an IMAP target a connection), so a catch-all for a
    /// few hundred people would otherwise meet the usual soft limit of 1,024.
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }
}
