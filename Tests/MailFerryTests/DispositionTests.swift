import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// What becomes of a refused message, as a table: failure kind × attempts so far × `quarantineAfter`.
@Suite struct DispositionTests {
    static let now = 1_700_000_000.0

    /// (kind, attempts, quarantineAfter, expected).
    static let table: [(FailureKind, Int, Int, Disposition)] = [
        // Refused for good: failed, however often tried.
        (.permanent, 1, 3, .failed),
        (.permanent, 9, 3, .failed),
        // The target in trouble: deferred, never quarantined; local and quota trouble are due at once.
        (.local, 1, 3, .deferred(retryAt: now)),
        (.local, 7, 3, .deferred(retryAt: now)),
        (.quota, 5, 3, .deferred(retryAt: now)),
        (.auth, 1, 3, .deferred(retryAt: now + 300)),
        (.auth, 3, 3, .deferred(retryAt: now + 1200)),
        (.tls, 2, 3, .deferred(retryAt: now + 600)),
        // The message's own trouble: backoff doubling from 5 minutes, quarantined at `quarantineAfter`.
        (.transient, 1, 3, .deferred(retryAt: now + 300)),
        (.transient, 2, 3, .deferred(retryAt: now + 600)),
        (.transient, 3, 3, .quarantined(attempts: 3)),
        (.transient, 4, 3, .quarantined(attempts: 4)),
        (.protocol, 1, 1, .quarantined(attempts: 1)),
        (.protocol, 2, 5, .deferred(retryAt: now + 600)),
        // The backoff is capped at 6 hours.
        (.transient, 9, 20, .deferred(retryAt: now + 21_600)),
        (.auth, 12, 3, .deferred(retryAt: now + 21_600)),
    ]

    @Test(arguments: 0..<table.count)
    func disposition(row: Int) {
        let (kind, attempts, quarantineAfter, expected) = Self.table[row]
        #expect(
            Disposition.of(kind, attempts: attempts, quarantineAfter: quarantineAfter, now: Self.now) == expected,
            "\(kind), attempt \(attempts), quarantineAfter \(quarantineAfter)")
    }

    @Test func targetTroubleIsExactlyTheTargetsKinds() {
        #expect(FailureKind.allCases.filter(\.isTargetTrouble) == [.quota, .auth, .tls, .local])
    }

    @Test func aRefusedRetrievalIsSetAsideEvenForKindsThatAreTargetTrouble() {
        // A RETR refusal counts against the message whatever its kind says.
        #expect(
            Disposition.setAside(.local, attempts: 3, quarantineAfter: 3, now: Self.now)
                == .quarantined(attempts: 3))
        #expect(
            Disposition.setAside(.transient, attempts: 1, quarantineAfter: 3, now: Self.now)
                == .deferred(retryAt: Self.now + 300))
    }

    @Test func runnerRetryTimeIsTheDispositionsBackoffFromNow() {
        let before = Date().timeIntervalSince1970
        let due = Runner.retryTime(attempts: 2, kind: .transient)
        let after = Date().timeIntervalSince1970
        #expect(due >= before + 600 && due <= after + 600)
    }
}
