import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The real binary turns core dumps off before it does anything else, and says so (SECURITY.md "Process hygiene").
@Suite struct ProcessHygieneTests {
    /// Started with core dumps allowed (soft limit raised to the hard one, as a shell's `ulimit -c unlimited`
    /// would), mailferry still reports them off: it is not dumpable and its core limit is 0.
    @Test func versionVerboseShowsCoreDumpsOff() throws {
        let child = try ChildProcess(
            "/bin/sh",
            [
                "-c", "ulimit -c $(ulimit -H -c) 2>/dev/null; exec \"$@\"", "sh",
                EndToEnd.binary, "--version", "--verbose",
            ])
        let result = child.finish(within: 60, "mailferry --version --verbose")
        #expect(result.code == 0)
        #expect(
            result.out == "mailferry \(MailFerryCLI.version) (commit \(MailFerryCLI.commit))\n"
                + "process: core dumps off (not dumpable, core file size limit 0)\n", "\(result.out)")
        let plain = try EndToEnd.mailferry(["--version"])
        #expect(plain.out == "mailferry \(MailFerryCLI.version) (commit \(MailFerryCLI.commit))\n")
    }

    /// The line says what is on when it is: this test process has not called disableCoreDumps.
    @Test func statusLineNamesWhatIsOn() {
        let line = ProcessHygiene.statusLine
        #expect(line.hasPrefix("process: core dumps ") && line.contains("core file size limit"))
        if ProcessHygiene.dumpable == 1 { #expect(line.contains("core dumps ON (dumpable")) }
    }
}
