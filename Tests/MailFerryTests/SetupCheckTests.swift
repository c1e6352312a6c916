import Foundation
import Testing

@testable import MailFerry
@testable import MailFerryTestSupport

/// What a run checks of this machine before any mail moves (issue 19), in the corners a review found.
@Suite struct SetupCheckTests {
    static func plan(_ folder: TempFolder) throws -> Plan {
        try PlanLoader.load(
            folder.file(
                "jobs/p.json5",
                """
                { plan: "p", sources: { isp: { host: "127.0.0.1" } },
                  targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t" } ] }
                """))
    }

    /// A probe file left by a run killed between creating and removing it (the same pid again: PID 1 in a
    /// container) does not stop every later run.
    @Test func aStaleProbeIsRemovedAndTheFolderStillPasses() throws {
        let folder = TempFolder("setup-probe")
        defer { folder.cleanup() }
        let stale = folder.file("reports/.mailferry-probe-\(getpid())", "left by a killed run")
        #expect(SetupCheck.makeWritable(folder.path + "/reports", mode: 0o750) == nil)
        #expect(!FileManager.default.fileExists(atPath: stale))
    }

    /// A trace file that exists is appended to: its folder need not be writable. /proc/self/fd is a folder no one
    /// can create a file in; its entry 2 (standard error) can be written.
    @Test func anExistingTraceFileNeedsNoWritableFolder() throws {
        let folder = TempFolder("setup-trace")
        defer { folder.cleanup() }
        let plan = try Self.plan(folder)
        #expect(SetupCheck.makeWritable("/proc/self/fd", mode: 0o700) != nil)
        let problems = SetupCheck.prepare(plan: plan, trace: "/proc/self/fd/2")
        #expect(problems.isEmpty, "\(problems)")
        // A missing trace file in such a folder is refused, with the folder named.
        let missing = SetupCheck.prepare(plan: plan, trace: "/proc/self/fd/no-such-trace")
        #expect(missing.map(\.description).contains { $0.contains("/proc/self/fd") }, "\(missing)")
    }
}
