import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// When to speak to a POP3 session the run is not using while it waits for a target (design.md, "A slow target"):
/// NOOP once the session was silent `keepalive` seconds, QUIT once one wait lasted `maxIdle`. Times are monotonic
/// seconds; a value type with no socket, so every decision can be tested.
struct IdleClock: Equatable {
    var keepalive: Double
    /// nil: the session is never ended for waiting (the server announced a LOGIN-DELAY: a new login could not
    /// follow soon, so the rest of the mailbox would wait for the next run).
    var maxIdle: Double?

    enum Action: Equatable {
        /// Nothing yet: ask again at this time.
        case sleep(until: Double)
        case keepAlive
        case close
    }

    /// What to do at `now`, in a wait that began at `waitingSince`, the last command having gone out at `lastSent`.
    func next(now: Double, waitingSince: Double, lastSent: Double) -> Action {
        if let maxIdle, now - waitingSince >= maxIdle { return .close }
        if now - lastSent >= keepalive { return .keepAlive }
        var wake = lastSent + keepalive
        if let maxIdle { wake = min(wake, waitingSince + maxIdle) }
        return .sleep(until: wake)
    }
}

/// Keeps a mailbox's POP3 session while the run waits for a target (a flush, an APPEND, an LMTP reply): a thread of
/// its own, armed only during such waits, sends NOOP as `IdleClock` says and, once a wait has lasted `maxIdle`, ends
/// the session (QUIT; without QUIT where the server has EXPIRE 0, so nothing retrieved is removed). The run then
/// resumes in a new session after the wait (`parked`). The client is the keeper's only while armed: the worker
/// touches it before `waiting` and after it returned, never during.
///
/// A wait that needed a keepalive marks the target slow: retrievals are then not pipelined (`pipelining`), so the
/// next wait has no unread replies in the way of a NOOP, until a wait ends within `keepalive` again.
final class SourceKeeper: @unchecked Sendable {
    private let client: POP3Client
    private let clock: IdleClock
    /// EXPIRE 0 in force: a QUIT would remove what was retrieved, delivered or not.
    private let expiresRetrieved: Bool
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waitingSince: Double?
    private var lastSent: Double
    private var acting = false
    private var stopped = false
    private var closedByKeeper = false
    private var slow = false
    private var keepalives = 0
    private var lostReason: String?

    init(client: POP3Client, clock: IdleClock, expiresRetrieved: Bool) {
        self.client = client
        self.clock = clock
        self.expiresRetrieved = expiresRetrieved
        lastSent = monotonicSeconds()
        let thread = Thread { [self] in loop() }
        thread.name = "mailferry source keeper"
        thread.start()
    }

    /// The session was ended (or lost) while the run waited: the rest of the mailbox needs a new one.
    var parked: Bool { condition.withLock { closedByKeeper } }
    /// Whether RETRs may be sent ahead: not while the target is slow (a NOOP would have to read them all first), and
    /// never on a server that expires what was retrieved (EXPIRE 0): a pipelined message dropped before a NOOP would
    /// count as retrieved, and go at the next QUIT undelivered.
    var pipelining: Bool { condition.withLock { !slow && !expiresRetrieved } }
    /// NOOPs sent so far, and why the keeper lost the session if it did (a NOOP refused or unanswered).
    var report: (keepalives: Int, lost: String?) { condition.withLock { (keepalives, lostReason) } }

    /// A command goes out to the server now (a retrieval begins).
    func sourceActive() {
        condition.withLock { lastSent = monotonicSeconds() }
    }

    /// Runs `body` (work for a target) with the session kept meanwhile; returns once the keeper has let go of it.
    /// Cheap: once per message, it only wakes the keeper when `maxIdle` could come before the next keepalive.
    /// `judgesTarget`: whether this wait says how quick the target is. A flush that was not due returns at once and
    /// says nothing: it may mark the target slow when it took long, never quick again.
    func waiting<T>(judgesTarget: Bool = true, _ body: () throws -> T) rethrows -> T {
        let started = monotonicSeconds()
        condition.withLock {
            waitingSince = started
            if let maxIdle = clock.maxIdle, maxIdle < clock.keepalive { condition.broadcast() }
        }
        defer {
            condition.withLock {
                waitingSince = nil
                while acting { condition.wait() }
                let long = monotonicSeconds() - started >= clock.keepalive
                if judgesTarget || long { slow = long }
            }
        }
        return try body()
    }

    /// Ends the keeper's thread (the session is over); waits for a NOOP under way.
    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
            while acting { condition.wait() }
        }
    }

    private func loop() {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            guard !closedByKeeper else {
                condition.wait()
                continue
            }
            let now = monotonicSeconds()
            // Not armed: asleep until a keepalive could be due (a wait armed meanwhile finds it so).
            let action =
                waitingSince.map { clock.next(now: now, waitingSince: $0, lastSent: lastSent) }
                ?? .sleep(until: max(lastSent + clock.keepalive, now + 1))
            if case .sleep(let until) = action {
                _ = condition.wait(until: Date().addingTimeInterval(max(0.01, until - now)))
                continue
            }
            acting = true
            condition.unlock()
            let outcome = act(action)
            condition.lock()
            acting = false
            lastSent = monotonicSeconds()
            switch outcome {
            case .keptAlive: keepalives += 1
            case .closed: closedByKeeper = true
            case .lost(let reason):
                closedByKeeper = true
                lostReason = reason
            }
            condition.broadcast()
        }
    }

    private enum Outcome {
        case keptAlive
        case closed
        case lost(String)
    }

    /// Speaks to the server (the condition's lock not held).
    private func act(_ action: IdleClock.Action) -> Outcome {
        guard !client.botched else { return .lost("the session failed earlier") }
        guard action == .keepAlive else {
            if expiresRetrieved { client.abandon() } else { client.quit() }
            return .closed
        }
        do {
            try client.noop()
            return .keptAlive
        } catch {
            client.quit()
            return .lost((error as? MailError)?.message ?? "\(error)")
        }
    }
}

extension Plan.Source {
    /// The keeper's clock for this source; no `maxIdle` when the server wants logins spaced (`loginDelay` seconds).
    func idleClock(loginDelay: Int?) -> IdleClock {
        IdleClock(
            keepalive: Double(keepaliveSeconds), maxIdle: (loginDelay ?? 0) > 0 ? nil : Double(maxIdleSeconds))
    }
}
