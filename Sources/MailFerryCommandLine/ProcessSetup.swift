import Foundation
import Glibc
import MailSystem

extension MailFerryCLI {
    /// What the process needs before it reads a plan: called first by `main`.
    public static func prepareProcess() {
        // Before anything reads a secret: no core dumps, no ptrace by same-uid processes (SECURITY.md "Process
        // hygiene").
        ProcessHygiene.disableCoreDumps()
        ProcessHygiene.raiseOpenFileLimit()
        // A server closing a connection must not kill us; writes report EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        // Mailbox workers are threads, and glibc gives each thread its own malloc arena (up to 8 per core), each
        // keeping freed memory for itself: two arenas hold peak memory at --parallel 8 about 6 MiB lower at no
        // measurable cost. (mallopt is in <malloc.h>, which the Glibc module does not export; M_ARENA_MAX is -8
        // there.)
        if let mallopt = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(mallopt, to: (@convention(c) (Int32, Int32) -> Int32).self)(-8, 2)
        }
    }
}
