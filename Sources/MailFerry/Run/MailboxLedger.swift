import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// What happened during one mailbox's run, in order: each message's outcome is recorded once, when it is final
/// (a staged delivery when its flush answered for it), so nothing counted is ever taken back. The mailbox's
/// `MailboxResult` is the fold of the outcomes.
final class MailboxLedger {
    enum Outcome {
        case connected(tlsVersion: String?)
        case loggedIn(method: String)
        /// Not logged in this run (IN-USE, LOGIN-DELAY): why.
        case waiting(String)
        case listed(onServer: Int)
        case new(Int)
        /// What a complete listing changed in the vanished marks (design.md, "Mail that vanished").
        case listingGaps(Store.ListingGaps)
        case note(String)
        case messageError(String)
        case envelope(RecoveredEnvelope)
        /// A message delivered (`bytes` its size).
        case delivered(bytes: Int)
        /// One routed delivery of a catch-all message made.
        case routed(uidl: String, RoutedDelivery?)
        case settled(Disposition)
        case duplicate(uidl: String, of: String)
        /// Messages left for a later run (the mailbox stopped, or a staged batch could not be answered for).
        case pending(Int)
        case reconciled
        case possibleDuplicate(uidl: String)
        case heldInDoubt(uidl: String)
        /// What was held in doubt is asked about once more: the earlier holds no longer stand.
        case askingAgain
        case removed(Int)
        case interrupted(String)
        case failure(MailError)
    }

    /// The outcomes so far, folded as they come: the ledger keeps no per-message record but which messages are
    /// counted.
    private(set) var result: MailboxResult
    private var countedMessages = Set<Int>()

    init(_ base: MailboxResult) {
        result = base
    }

    /// Records `outcome`, for the POP3 message numbered `message` when it belongs to one.
    func record(_ outcome: Outcome, for message: Int? = nil) {
        if let message {
            switch outcome {
            case .delivered, .duplicate, .settled, .pending: countedMessages.insert(message)
            default: break
            }
        }
        result.fold(outcome)
    }

    /// Whether message `number` reached an outcome that counts it (delivered, a duplicate, disposed of, pending).
    func counted(message number: Int) -> Bool {
        countedMessages.contains(number)
    }

    /// Notes recorded so far.
    var noteCount: Int { result.notes.count }

    /// The login method of this run's last login: a later session logs in the same way.
    var authMethod: String? { result.authMethod }

    /// Whether the last look at the in-doubt rows held any.
    var holdsInDoubt: Bool { result.leftInDoubt != nil }

    /// The in-doubt deliveries found by reconciliation so far.
    var reconciledCount: Int { result.reconciled }
}

extension MailboxResult {
    fileprivate mutating func fold(_ outcome: MailboxLedger.Outcome) {
        switch outcome {
        case .connected(let version): tlsVersion = version
        case .loggedIn(let method): authMethod = method
        case .waiting(let reason): waiting = reason
        case .listed(let count): onServer = count
        case .new(let count): new += count
        case .listingGaps(let gaps): noteGaps(gaps)
        case .note(let text): notes.append(text)
        case .messageError(let text): messageErrors.append(text)
        case .envelope(let envelope): countEnvelope(envelope)
        case .delivered(let size):
            delivered += 1
            bytes += size
        case .routed(let uidl, let delivery):
            routed += 1
            if let delivery { noteRouting(uidl: uidl, delivery) }
        case .settled(.failed): failed += 1
        case .settled(.deferred): deferred += 1
        case .settled(.quarantined): quarantined += 1
        case .duplicate(let uidl, let original): noteDuplicate(uidl: uidl, of: original)
        case .pending(let count): pending += count
        case .reconciled: reconciled += 1
        case .possibleDuplicate(let uidl): possibleDuplicates.append(uidl)
        case .heldInDoubt(let uidl): noteLeftInDoubt(uidl)
        case .askingAgain: leftInDoubt = nil
        case .removed(let count): removed = count
        case .interrupted(let reason):
            notes.append("interrupted: \(reason)")
            if pending == 0 { pending = 1 }
        case .failure(let error):
            self.error = error.message
            errorKind = error.kind
        }
    }
}
