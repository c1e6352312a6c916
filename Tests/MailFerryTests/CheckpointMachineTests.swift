import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The checkpoint of one attempt, fed events with no store, target or socket: the actions it returns and the states
/// it reaches, every event in every state. An impossible event is a programmer error: the process stops.
@Suite struct CheckpointMachineTests {
    typealias Machine = CheckpointMachine
    typealias Action = CheckpointMachine.Action

    static let refusal = MailError(.transient, "452 try later")
    static let trouble = MailError(.local, "disk full")
    static let lost = MailError(.transient, "connection lost", code: .inDoubt)

    /// Every state, reached by its events from a fresh machine of a mode that leads there.
    static let states = [
        "ready", "deliveringQueued", "delivering", "stagedUnseen", "staged", "confirming", "done",
        "inDoubt",
    ]

    static func machine(in state: String) -> Machine {
        switch state {
        case "ready": return Machine(mode: .staged)
        case "deliveringQueued": return fed(.stagedUnseen) { _ = $0.start() }
        case "delivering": return fed(.staged) { _ = $0.start() }
        case "stagedUnseen":
            return fed(.stagedUnseen) {
                _ = $0.start()
                _ = $0.targetStaged()
            }
        case "staged":
            return fed(.staged) {
                _ = $0.start()
                _ = $0.targetStaged()
            }
        case "confirming":
            return fed(.confirmLater) {
                _ = $0.start()
                _ = $0.targetAnswered([.success("r")])
            }
        case "done":
            return fed(.waitEach) {
                _ = $0.start()
                _ = $0.targetAnswered([.success("r")])
            }
        case "inDoubt":
            return fed(.waitEach) {
                _ = $0.start()
                _ = $0.targetLeftInDoubt(lost)
            }
        default: preconditionFailure("no state \(state)")
        }
    }

    static func fed(_ mode: Machine.Mode, _ events: (inout Machine) -> Void) -> Machine {
        var machine = Machine(mode: mode)
        events(&machine)
        return machine
    }

    /// Every event, by name.
    static let events = [
        "start", "targetStaged", "targetAnswered", "targetRefused", "targetLeftInDoubt",
        "flushStarts", "flushAnswered", "flushFailed", "deliveredCommitted", "deliveredFailed",
    ]

    static func feed(_ event: String, to machine: inout Machine) -> [Action] {
        switch event {
        case "start": return machine.start()
        case "targetStaged": return machine.targetStaged()
        case "targetAnswered": return machine.targetAnswered([.success("ref")])
        case "targetRefused": return machine.targetRefused(refusal)
        case "targetLeftInDoubt": return machine.targetLeftInDoubt(lost)
        case "flushStarts": return machine.flushStarts()
        case "flushAnswered": return machine.flushAnswered(.success("ref"))
        case "flushFailed": return machine.flushFailed()
        case "deliveredCommitted": return machine.deliveredCommitted()
        case "deliveredFailed": return machine.deliveredFailed()
        default: preconditionFailure("no event \(event)")
        }
    }

    /// The events each state takes (the staged states and "delivering" as reached above, in mode `staged`).
    static let valid: [String: Set<String>] = [
        "ready": ["start"],
        "deliveringQueued": ["targetStaged", "targetAnswered", "targetRefused", "targetLeftInDoubt"],
        "delivering": ["targetStaged", "targetAnswered", "targetRefused", "targetLeftInDoubt"],
        "stagedUnseen": ["flushStarts", "flushFailed"],
        "staged": ["flushStarts", "flushAnswered", "flushFailed"],
        "confirming": ["deliveredCommitted", "deliveredFailed"],
        "done": [],
        "inDoubt": [],
    ]

    static let invalidPairs: [String] = states.flatMap { state in
        events.filter { !(valid[state] ?? []).contains($0) }.map { "\(state) \($0)" }
    }

    @Test(arguments: invalidPairs)
    func anImpossibleEventStopsTheProcess(pair: String) async {
        await #expect(processExitsWith: .failure, "\(pair)") { [pair] in
            let parts = pair.split(separator: " ").map(String.init)
            var machine = CheckpointMachineTests.machine(in: parts[0])
            _ = CheckpointMachineTests.feed(parts[1], to: &machine)
        }
    }

    @Test func aTargetThatStagesWhatMayNotBeStagedStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            var machine = CheckpointMachine(mode: .waitEach)
            _ = machine.start()
            _ = machine.targetStaged()
        }
        await #expect(processExitsWith: .failure) {
            _ = CheckpointMachine(mode: .staged, rows: 2)
        }
    }

    // MARK: - Starting

    @Test func startCommitsDeliveringBeforeTheTargetIsTouched() {
        for mode in [Machine.Mode.waitEach, .confirmLater, .staged] {
            var machine = Machine(mode: mode)
            #expect(
                machine.start() == [
                    .commitDelivering, .crash(.afterDeliveringCommit),
                    .deliver(mayStage: mode == .staged),
                ])
            #expect(machine.state == .delivering)
        }
    }

    @Test func stagedUnseenQueuesDeliveringAndDeliversAtOnce() {
        var machine = Machine(mode: .stagedUnseen)
        #expect(machine.start() == [.queueDelivering, .deliver(mayStage: true)])
        #expect(machine.state == .deliveringQueued)
    }

    @Test func modeFollowsTheTargetsTraits() {
        let maildir = MaildirDelivery.traits(stagingLimit: 32)
        let imap = IMAPDelivery.traits(provenanceHeader: false, pipelineDepth: 16)
        #expect(Machine.Mode.choose(maildir, opened: true, confirmsLater: true, mayStage: true) == .stagedUnseen)
        // The first message opens the target after its checkpoint is durable.
        #expect(Machine.Mode.choose(maildir, opened: false, confirmsLater: true, mayStage: true) == .staged)
        #expect(Machine.Mode.choose(maildir, opened: true, confirmsLater: true, mayStage: false) == .confirmLater)
        #expect(
            Machine.Mode.choose(
                MaildirDelivery.traits(stagingLimit: 1), opened: true, confirmsLater: true,
                mayStage: true) == .confirmLater)
        #expect(Machine.Mode.choose(imap, opened: true, confirmsLater: true, mayStage: true) == .staged)
        #expect(Machine.Mode.choose(imap, opened: true, confirmsLater: false, mayStage: true) == .waitEach)
        #expect(
            Machine.Mode.choose(
                MailTransferDelivery.traits, opened: true, confirmsLater: false,
                mayStage: true) == .waitEach)
    }

    // MARK: - The target's answer

    @Test func anAnswerWaitsForEachCommitOnlyWhereTheTargetCannotBeAsked() {
        var waiting = Self.fed(.waitEach) { _ = $0.start() }
        #expect(
            waiting.targetAnswered([.success("250 ok")])
                == [.crash(.afterTargetAck), .commitDelivered(row: 0, reference: "250 ok")])
        #expect(waiting.state == .done)
        for mode in [Machine.Mode.confirmLater, .staged] {
            var later = Self.fed(mode) { _ = $0.start() }
            #expect(
                later.targetAnswered([.success("new/x")])
                    == [.crash(.afterTargetAck), .queueDelivered(row: 0, reference: "new/x")])
            #expect(later.state == .confirming)
        }
    }

    @Test func anUnstagedAnswerWaitsForTheDeliveringRidingWithTheBatch() {
        var machine = Self.machine(in: "deliveringQueued")
        #expect(
            machine.targetAnswered([.success("new/x")])
                == [.waitDelivering, .crash(.afterTargetAck), .queueDelivered(row: 0, reference: "new/x")])
        #expect(machine.state == .confirming)
    }

    @Test func severalRecipientsSettleEachRowOnItsOwn() {
        var machine = Machine(mode: .waitEach, rows: 3)
        #expect(machine.start() == [.commitDelivering, .crash(.afterDeliveringCommit), .deliver(mayStage: false)])
        let unknown = MailError(.permanent, "550 no such user")
        #expect(
            machine.targetAnswered([.success("250 a"), .failure(unknown), .success("250 c")])
                == [
                    .crash(.afterTargetAck), .commitDelivered(row: 0, reference: "250 a"), .settle(row: 1, unknown),
                    .commitDelivered(row: 2, reference: "250 c"),
                ])
        #expect(machine.state == .done)
    }

    @Test func aRefusalSettlesEveryRowAndTargetTroubleStopsTheMailbox() {
        var refused = Self.machine(in: "delivering")
        #expect(refused.targetRefused(Self.refusal) == [.settle(row: 0, Self.refusal)])
        #expect(refused.state == .done)
        var several = Machine(mode: .waitEach, rows: 2)
        _ = several.start()
        #expect(
            several.targetRefused(Self.trouble)
                == [.settle(row: 0, Self.trouble), .settle(row: 1, Self.trouble), .stop(Self.trouble)])
        var queued = Self.machine(in: "deliveringQueued")
        #expect(queued.targetRefused(Self.trouble) == [.settle(row: 0, Self.trouble), .stop(Self.trouble)])
        #expect(queued.state == .done)
    }

    @Test func aLostAnswerLeavesTheAttemptInDoubtAndStops() {
        var machine = Self.machine(in: "delivering")
        #expect(machine.targetLeftInDoubt(Self.lost) == [.reportInDoubt(Self.lost), .stop(Self.lost)])
        #expect(machine.state == .inDoubt)
        var queued = Self.machine(in: "deliveringQueued")
        #expect(queued.targetLeftInDoubt(Self.lost) == [.waitDelivering, .reportInDoubt(Self.lost), .stop(Self.lost)])
        #expect(queued.state == .inDoubt)
    }

    @Test func stagingHoldsForTheFlush() {
        var unseen = Self.machine(in: "deliveringQueued")
        #expect(unseen.targetStaged() == [.holdForFlush])
        #expect(unseen.state == .stagedUnseen)
        var seen = Self.machine(in: "delivering")
        #expect(seen.targetStaged() == [.holdForFlush])
        #expect(seen.state == .staged)
    }

    // MARK: - The flush

    @Test func nothingBecomesVisibleBeforeItsDeliveringIsDurable() {
        var machine = Self.machine(in: "stagedUnseen")
        #expect(machine.flushStarts() == [.waitDelivering, .crash(.afterDeliveringCommit)])
        #expect(machine.state == .staged)
        // Already durable: nothing to wait for.
        #expect(machine.flushStarts() == [])
        #expect(machine.state == .staged)
    }

    @Test func theFlushsAnswerSettlesTheStagedDelivery() {
        var landed = Self.machine(in: "staged")
        #expect(
            landed.flushAnswered(.success("new/x"))
                == [.crash(.afterTargetAck), .queueDelivered(row: 0, reference: "new/x")])
        #expect(landed.state == .confirming)
        var refused = Self.machine(in: "staged")
        #expect(refused.flushAnswered(.failure(Self.refusal)) == [.settle(row: 0, Self.refusal)])
        #expect(refused.state == .done)
        var full = Self.machine(in: "staged")
        #expect(full.flushAnswered(.failure(Self.trouble)) == [.settle(row: 0, Self.trouble), .stop(Self.trouble)])
        var unanswered = Self.machine(in: "staged")
        #expect(unanswered.flushAnswered(nil) == [.leavePending])
        #expect(unanswered.state == .inDoubt)
    }

    @Test func aFailedFlushLeavesEveryStagedDeliveryPending() {
        for state in ["stagedUnseen", "staged"] {
            var machine = Self.machine(in: state)
            #expect(machine.flushFailed() == [.leavePending])
            #expect(machine.state == .inDoubt)
        }
    }

    // MARK: - The queued "delivered"

    @Test func theQueuedDeliveredCheckpointEndsTheAttempt() {
        var committed = Self.machine(in: "confirming")
        #expect(committed.deliveredCommitted() == [])
        #expect(committed.state == .done)
        var failed = Self.machine(in: "confirming")
        #expect(failed.deliveredFailed() == [])
        #expect(failed.state == .inDoubt)
    }

    /// The whole life of a Maildir batch member, crash points in order.
    @Test func aStagedUnseenDeliveryFromStartToDelivered() {
        var machine = Machine(mode: .stagedUnseen)
        var actions = machine.start()
        actions += machine.targetStaged()
        actions += machine.flushStarts()
        actions += machine.flushAnswered(.success("new/x"))
        actions += machine.deliveredCommitted()
        #expect(
            actions == [
                .queueDelivering, .deliver(mayStage: true), .holdForFlush, .waitDelivering,
                .crash(.afterDeliveringCommit), .crash(.afterTargetAck),
                .queueDelivered(row: 0, reference: "new/x"),
            ])
        #expect(machine.state == .done)
    }

    @Test func crashSitesKeepTheirNames() {
        #expect(Machine.CrashSite.afterDeliveringCommit.rawValue == "after-delivering-commit")
        #expect(Machine.CrashSite.afterTargetAck.rawValue == "after-target-ack")
    }
}
