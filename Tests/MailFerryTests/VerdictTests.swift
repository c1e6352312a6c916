import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The run's verdict from the state (issue 19, point 1), and errors as sentences.
@Suite struct VerdictTests {
    static func result(_ standing: MailboxStanding?, waiting: String? = nil) -> MailboxResult {
        var r = MailboxResult(key: "isp/u", address: "u@example", target: "t")
        r.standing = standing
        r.waiting = waiting
        return r
    }

    static func summary(_ results: [MailboxResult], interrupted: Bool = false) -> RunSummary {
        RunSummary(
            runID: "20261221T090000.000Z", plan: "p", startedAt: Date(timeIntervalSince1970: 0),
            finishedAt: Date(timeIntervalSince1970: 1), mailboxes: results, interrupted: interrupted, exitCode: 0)
    }

    @Test func exitZeroOnlyWhenTheStateHoldsNothingUndelivered() {
        #expect(RunCommand.verdict(Self.summary([Self.result(MailboxStanding())]), selected: 1) == 0)
        // What this run did not touch still counts: a message deferred earlier, waiting for its next try.
        for standing in [
            MailboxStanding(pending: 1), MailboxStanding(inDoubt: 1), MailboxStanding(deferred: 1),
            MailboxStanding(failed: 1), MailboxStanding(quarantined: 1),
        ] {
            #expect(RunCommand.verdict(Self.summary([Self.result(standing)]), selected: 1) == 1, "\(standing)")
        }
        // A mailbox that only waits for [IN-USE] is no failure; its messages still count.
        let waiting = Self.result(MailboxStanding(), waiting: "[IN-USE] maildrop locked")
        #expect(RunCommand.verdict(Self.summary([waiting]), selected: 1) == 0)
        let waitingWithDeferred = Self.result(MailboxStanding(deferred: 2), waiting: "[IN-USE] maildrop locked")
        #expect(RunCommand.verdict(Self.summary([waitingWithDeferred]), selected: 1) == 1)
        // One that has waited since its first run was never listed: nothing of it is migrated, not worked on.
        var neverListed = MailboxStanding()
        neverListed.neverListed = true
        #expect(
            RunCommand.verdict(Self.summary([Self.result(neverListed, waiting: "[IN-USE] locked")]), selected: 1) == 1)
        // A standing the state could not give is no proof of anything.
        var unreadable = Self.result(nil)
        unreadable.standingUnreadable = true
        #expect(RunCommand.verdict(Self.summary([unreadable]), selected: 1) == 1)
        // A mailbox that stopped, or one never worked on.
        var stopped = Self.result(MailboxStanding())
        stopped.error = "cannot connect"
        #expect(RunCommand.verdict(Self.summary([stopped]), selected: 1) == 1)
        #expect(RunCommand.verdict(Self.summary([Self.result(MailboxStanding())]), selected: 2) == 1)
        // Without a standing (a dry run), this run's own counters.
        var preview = Self.result(nil)
        #expect(RunCommand.verdict(Self.summary([preview]), selected: 1) == 0)
        preview.deferred = 1
        #expect(RunCommand.verdict(Self.summary([preview]), selected: 1) == 1)
    }

    /// The state says whether a mailbox was ever listed; a vanished row is left out of where the mailbox stands
    /// (it is listed apart, and no run can reach it).
    @Test func theStandingKnowsNeverListedAndLeavesVanishedOut() throws {
        let folder = TempFolder("standing")
        defer { folder.cleanup() }
        let store = try Store(path: folder.path + "/state.sqlite")
        let id = try store.registerMailbox(key: "isp/u", source: "isp", user: "u", target: "t", address: "u@example")
        #expect(try store.standing(mailbox: id).neverListed == true)
        _ = try store.syncListing(
            mailbox: id,
            entries: [POP3Entry(number: 1, uidl: "a", size: 10), POP3Entry(number: 2, uidl: "b", size: 20)])
        #expect(try store.standing(mailbox: id) == MailboxStanding(pending: 2))
        _ = try store.noteListingGaps(mailbox: id, gone: ["b"], back: [])
        #expect(try store.standing(mailbox: id) == MailboxStanding(pending: 1))
    }

    @Test func theClosingLineCountsWhatTheExitCodeIsMadeOf() {
        var chris = Self.result(MailboxStanding(pending: 3, deferred: 2, failed: 1, quarantined: 1))
        chris.delivered = 1
        chris.bytes = 2048
        var s = Self.summary([chris])
        s.exitCode = RunCommand.verdict(s, selected: 1)
        #expect(
            RunCommand.finalLine(s)
                == "done: 1 mailbox, 1 message delivered (2.0 KiB) in 1.0 s; 2 deferred, 1 quarantined, 1 failed, "
                + "3 left for the next run; exit 1")
        let line = ConsoleObserver.describe(chris)
        #expect(line.contains("1 delivered (2.0 KiB), 2 deferred earlier (waiting for their next try) ["), "\(line)")
    }

    @Test func foundationErrorsBecomeSentences() throws {
        let folder = TempFolder("errortext")
        defer { folder.cleanup() }
        let file = folder.file("plain", "x")
        do {
            try FileManager.default.createDirectory(atPath: file + "/sub", withIntermediateDirectories: true)
            Issue.record("a folder was made below a file")
        } catch {
            let sentence = ErrorText.sentence(error)
            #expect(!sentence.contains("Error Domain") && !sentence.contains("UserInfo"), "\(sentence)")
            #expect(sentence.hasPrefix(file), "\(sentence)")
            #expect(!ErrorText.cause(error).contains(file), "\(ErrorText.cause(error))")
        }
        let readOnly = CocoaError(.fileWriteVolumeReadOnly, userInfo: [NSFilePathErrorKey: "/srv/reports"])
        #expect(ErrorText.sentence(readOnly) == "/srv/reports: Read-only file system")
        #expect(ErrorText.cause(readOnly) == "Read-only file system")
        #expect(ErrorText.sentence(MailError(.local, "cannot write x: No space left on device")).hasPrefix("cannot"))
    }
}
