import Foundation
import Glibc
import MailFerryLab
import Testing
@testable import MailFerry

/// The crash promise under fire: SIGKILL at random moments, over and over, then a clean run; every message must
/// be in its target exactly once and the state database must agree.
@Suite(.serialized) struct RandomKillTests {
    @Test func fiftyRandomKillsIntoMaildir() throws {
        let e2e = try EndToEnd("e2e-randomkill", counts: ["alice": 200, "bob": 200, "carol": 200],
                               bigAttachmentFor: "carol")
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var random = SplitMix64(seed: seed)
        var kills = 0
        var killsMidMigration = 0
        var finishedEarly = 0
        var progress: [Int] = []
        // Bounded: at most 200 attempts to land 50 kills.
        // Start-up takes tens of ms and 600 messages well under a second, and both vary with the machine's load:
        // the mean delay adapts so the 50 kills spread over the whole migration (start-up, listing, retrieval,
        // delivery, batch flushes, commits), and each delay is random around it.
        var meanDelay = 30_000.0
        for _ in 0..<200 where kills < 50 {
            let before = e2e.deliveredCount()
            let child = try e2e.start()
            usleep(UInt32(meanDelay * (0.5 + Double(random.next() % 1000) / 1000)))
            if child.wait(timeout: 0) == nil {
                child.kill9()
                kills += 1
                if e2e.deliveredCount() < 600 { killsMidMigration += 1 }
            } else {
                finishedEarly += 1
            }
            child.removeOutput()
            let delivered = e2e.deliveredCount()
            progress.append(delivered)
            // A run makes its deliveries visible a batch at a time (32 per mailbox): the delay settles where about
            // one run in seven gets a batch through, so most kills land mid-batch and the migration needs many runs.
            if delivered > before { meanDelay = max(5_000, meanDelay * 0.75) }
            if delivered == before { meanDelay = min(150_000, meanDelay * 1.05) }
        }
        print("random kills: seed \(seed), \(kills) kills (\(killsMidMigration) mid-migration), \(finishedEarly) runs finished first, delivered after "
              + "each: \(progress)")
        #expect(kills >= 50, "seed \(seed)")
        #expect(killsMidMigration >= 40, "seed \(seed): only \(killsMidMigration) kills landed before the end")
        let final = try e2e.run()
        #expect(final.code == 0, "seed \(seed): \(final.out)\n\(final.err)")
        for user in ["alice", "bob", "carol"] {
            try e2e.expectExactlyOnce(user)
            // No leftovers of killed attempts in tmp/.
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: e2e.maildir(user) + "/tmp")) ?? []
            #expect(leftovers.isEmpty, "seed \(seed): \(leftovers.prefix(3))")
        }
    }
}

