import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The crash promise under fire: SIGKILL at random moments, over and over, then a clean run; every message must
/// be in its target exactly once and the state database must agree.
@Suite(.serialized) struct RandomKillTests {
    @Test func fiftyRandomKillsIntoMaildir() throws {
        let e2e = try EndToEnd(
            "e2e-randomkill", counts: ["alice": 200, "bob": 200, "carol": 200],
            bigAttachmentFor: "carol")
        // Start-up takes tens of ms and 600 messages well under a second, both varying with the machine's load; a
        // run's deliveries show a batch at a time (32 per mailbox).
        let kills = try RandomKills(wanted: 50, attempts: 250, total: 600, count: e2e.deliveredCount) {
            try e2e.start()
        }
        print("random kills: \(kills.summary)")
        let seed = kills.seed
        kills.expectSpread(midMigration: 40)
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
