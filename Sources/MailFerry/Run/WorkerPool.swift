import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// Runs jobs on a bounded number of OS threads (blocking network I/O must not sit on the Swift concurrency pool),
/// with a per-group limit so one legacy server never gets more sessions than its `maxConnections`.
final class WorkerPool<Job: Sendable>: Sendable {
    private struct State {
        var queue: [Job]
        var active: [String: Int] = [:]
    }

    private let state: Mutex<State>
    private let condition = NSCondition()
    private let group: @Sendable (Job) -> String
    private let limit: @Sendable (String) -> Int

    init(jobs: [Job], group: @escaping @Sendable (Job) -> String, limit: @escaping @Sendable (String) -> Int) {
        state = Mutex(State(queue: jobs))
        self.group = group
        self.limit = limit
    }

    /// Runs every job with at most `threads` at a time; returns when all are done.
    func run(threads: Int, _ work: @escaping @Sendable (Job) -> Void) {
        let done = DispatchGroup()
        for _ in 0..<max(1, threads) {
            done.enter()
            let thread = Thread { [self] in
                while let job = next() {
                    work(job)
                    finished(job)
                }
                done.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        done.wait()
    }

    /// The next job whose group has a free slot; waits while every queued job's group is full; nil when none are left.
    private func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let pick: (job: Job?, empty: Bool) = state.withLock { s in
                if s.queue.isEmpty { return (nil, true) }
                guard let index = s.queue.firstIndex(where: { (s.active[group($0)] ?? 0) < limit(group($0)) }) else {
                    return (nil, false)
                }
                let job = s.queue.remove(at: index)
                s.active[group(job), default: 0] += 1
                return (job, false)
            }
            if let job = pick.job { return job }
            if pick.empty { return nil }
            condition.wait()
        }
    }

    private func finished(_ job: Job) {
        condition.lock()
        state.withLock { s in s.active[group(job), default: 1] -= 1 }
        condition.broadcast()
        condition.unlock()
    }
}
