import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// What becomes of a message a delivery or a retrieval did not get through: a pure decision from the failure's kind,
/// the attempts counted so far and the plan's `quarantineAfter`. Retry policy reads only the classification.
enum Disposition: Equatable {
    /// Tried again from `retryAt` on (seconds since 1970).
    case deferred(retryAt: Double)
    /// Refused for good: the message stays on the server, and the report names it.
    case failed
    /// Set aside after failing `attempts` times, so one poisonous message cannot hold up a mailbox run after run.
    case quarantined(attempts: Int)

    /// A delivery the target refused. `attempts` counts this attempt already (it went through "delivering"; a
    /// refused retrieval counts it now). A target in trouble (`FailureKind.isTargetTrouble`) is not the message's
    /// fault: it is deferred, never quarantined, and its backoff counts this attempt.
    static func of(_ kind: FailureKind, attempts: Int, quarantineAfter: Int, now: Double) -> Disposition {
        switch kind {
        case .permanent:
            return .failed
        case _ where kind.isTargetTrouble:
            return .deferred(retryAt: retryTime(attempts: attempts, kind: kind, now: now))
        default:
            return setAside(kind, attempts: attempts, quarantineAfter: quarantineAfter, now: now)
        }
    }

    /// Deferred, or quarantined once the message has failed `quarantineAfter` times.
    static func setAside(_ kind: FailureKind, attempts: Int, quarantineAfter: Int, now: Double) -> Disposition {
        attempts >= quarantineAfter
            ? .quarantined(attempts: attempts)
            : .deferred(retryAt: retryTime(attempts: attempts, kind: kind, now: now))
    }

    /// Backoff for deferred messages: local trouble is worth retrying on the very next run; remote trouble waits
    /// 5 minutes, doubling per attempt up to 6 hours.
    static func retryTime(attempts: Int, kind: FailureKind, now: Double) -> Double {
        if kind == .local || kind == .quota { return now }
        return now + min(300 * pow(2, Double(max(0, attempts - 1))), 21600)
    }
}

extension FailureKind {
    /// The target itself is in trouble, not the message: disk full, permissions, over quota, a refused login or
    /// certificate. The mailbox stops at the first such refusal: one refused login per run, not one per message
    /// (no lockout of an admin account), and no message is quarantined for it.
    var isTargetTrouble: Bool {
        switch self {
        case .local, .quota, .auth, .tls: return true
        default: return false
        }
    }
}

extension Store {
    /// Writes a disposition into the message's row. `countAttempt`: the failure counts as an attempt of its own
    /// (a refused retrieval; a delivery counted it when it went through "delivering").
    func record(_ disposition: Disposition, id: Int64, kind: FailureKind, error: String, countAttempt: Bool) throws {
        switch disposition {
        case .failed:
            try markFailed(id: id, kind: kind, error: error)
        case .deferred(let retryAt):
            try markDeferred(id: id, kind: kind, error: error, retryAt: retryAt, countAttempt: countAttempt)
        case .quarantined(let attempts):
            try markQuarantined(id: id, kind: kind, error: "quarantined after \(attempts) failed attempts: \(error)")
        }
    }
}
