import Foundation
import MailCore
import MailSystem

extension POP3Client {
    /// DELE (RFC 1939 §5) for each message, then QUIT: the server removes them only when QUIT enters the update
    /// state, so either all of these are gone or (on any error, or a crash before QUIT) none is. Only ever called
    /// under a plan's retention policy, for messages confirmed delivered long enough ago.
    /// Returns normally only when the server confirmed QUIT; the session is closed either way.
    public func deleteAndQuit(_ numbers: [Int]) throws {
        defer {
            connection?.close()
            connection = nil
        }
        try guarded {
            guard pendingRetrievals.isEmpty else {
                throw MailError(.protocol, "internal: DELE with pipelined replies still unread")
            }
            for number in numbers {
                let reply = try command("DELE \(number)")
                guard reply.ok else { throw classify(reply, doing: "DELE \(number)", defaultKind: .transient) }
            }
            let quit = try command("QUIT")
            guard quit.ok else {
                throw classify(quit, doing: "QUIT after DELE (nothing was removed)", defaultKind: .transient)
            }
        }
    }
}
