import Foundation
import Glibc
import MailFerryLab
import Testing

/// SIGKILLs at random moments of a migration that is started over and over, until `wanted` kills have landed (at
/// most `attempts` runs). However fast or loaded the machine, the kills spread over start-up, listing, retrieval,
/// delivery and commits, and the migration cannot reach its end while kills are still to be made:
/// - a run is killed after a random delay around a mean that adapts to the machine, or as soon as it has made a
///   random few more deliveries visible (`count`), whichever comes first; the mean settles where about half the
///   runs are stopped by each;
/// - when the migration is ahead of its pace (more of the `total` deliveries made than the share of kills made), a
///   run is killed before its first delivery would show, at a random moment of the time runs took to make one.
struct RandomKills {
    let seed: UInt64
    let wanted: Int
    let total: Int
    private(set) var kills = 0
    private(set) var killsMidMigration = 0
    private(set) var finishedFirst = 0
    /// Deliveries visible after each run.
    private(set) var progress: [Int] = []

    init(wanted: Int, attempts: Int, total: Int, count: () -> Int, start: () throws -> ChildProcess) throws {
        seed = UInt64.random(in: 0...UInt64.max)
        self.wanted = wanted
        self.total = total
        var random = SplitMix64(seed: seed)
        func uniform(_ low: Double, _ high: Double) -> Double {
            low + (high - low) * Double(random.next() % 1_000_000) / 1_000_000
        }
        let maxStep = max(1, 2 * total / wanted)
        var meanDelay = 30_000.0
        var firstDelivery: Double?  // µs from start to a run's first visible delivery, averaged
        for _ in 0..<attempts where kills < wanted {
            let before = count()
            let ahead = Double(before) > 0.9 * Double(total) * Double(kills) / Double(wanted)
            let step = ahead ? 1 : 1 + Int(random.next() % UInt64(maxStep))
            let delay = ahead ? uniform(0.1, 0.9) * (firstDelivery ?? meanDelay) : meanDelay * uniform(0.5, 1.5)
            let child = try start()
            defer { child.removeOutput() }
            let started = DispatchTime.now().uptimeNanoseconds
            func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000 }
            var sawDelivery: Double?
            // Bounded by the delay, at most 0.6 s.
            while elapsed() < delay, child.wait(timeout: 0) == nil {
                let now = count()
                if now > before, sawDelivery == nil { sawDelivery = elapsed() }
                if now >= before + step { break }
                usleep(500)
            }
            if child.wait(timeout: 0) == nil {
                child.kill9()
                kills += 1
                if count() < total { killsMidMigration += 1 }
            } else {
                finishedFirst += 1
            }
            let after = count()
            progress.append(after)
            if let sawDelivery { firstDelivery = firstDelivery.map { 0.7 * $0 + 0.3 * sawDelivery } ?? sawDelivery }
            // Settles where about half the runs reach their step before their delay is over.
            // (Faster while runs show nothing at all: start-up can take tens of times the first delay.)
            if !ahead {
                meanDelay =
                    after - before >= step
                    ? max(2_000, meanDelay * 0.85)
                    : min(400_000, meanDelay * (after == before ? 1.3 : 1.15))
            }
        }
    }

    /// The kills wanted all landed, `midMigration` of them before the migration's end, and they spread over at least
    /// a fifth of its deliveries.
    func expectSpread(midMigration: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(kills >= wanted, "seed \(seed)", sourceLocation: sourceLocation)
        #expect(
            killsMidMigration >= midMigration, "seed \(seed): \(killsMidMigration) kills before the end",
            sourceLocation: sourceLocation)
        #expect(
            progress.last ?? 0 >= total / 5, "seed \(seed): the kills did not spread over the migration",
            sourceLocation: sourceLocation)
    }

    var summary: String {
        "seed \(seed), \(kills) kills (\(killsMidMigration) mid-migration), \(finishedFirst) runs finished first, "
            + "deliveries after each: \(progress)"
    }
}
