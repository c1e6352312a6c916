import Foundation
import MailCore
import MailSystem

/// Keeping an idle session (the run waits for a slow target) and ending it early. RFC 1939 §3: a server may log a
/// session out after 10 minutes without a command, and any command resets that timer.
extension POP3Client {
    /// RETR commands pipelined ahead whose replies are not read yet.
    public var pipelinedRetrievals: Int { pendingRetrievals.count }

    /// NOOP (RFC 1939 §5) to keep the session from the server's autologout. Replies of RETRs pipelined ahead are
    /// read and dropped first (at most `quitDrainLimit` bytes in all): their messages are asked for again when they
    /// are due, so a caller that waits long should not pipeline. Throws when the session is lost or refused it.
    public func noop() throws {
        try guarded {
            try dropPipelinedReplies()
            let reply = try command("NOOP")
            guard reply.ok else { throw classify(reply, doing: "NOOP", defaultKind: .transient) }
        }
    }

    /// Drops the connection without QUIT: the server never enters the update state, so nothing is removed, not even
    /// what a server with EXPIRE 0 would remove after a retrieval (RFC 1939 §6, RFC 2449 §6.7).
    public func abandon() {
        connection?.close()
        connection = nil
        pendingRetrievals = []
    }

    /// Reads and drops the replies of pipelined RETRs.
    private func dropPipelinedReplies() throws {
        guard let conn = connection else { throw MailError(.protocol, "not connected") }
        var budget = Self.quitDrainLimit
        while !pendingRetrievals.isEmpty {
            pendingRetrievals.removeFirst()
            guard try readReply().ok else { continue }
            try conn.readDotBody { chunk in
                budget -= chunk.count
                if budget < 0 {
                    throw MailError(.local, "too much pipelined data to read before NOOP; the session is dropped")
                }
            }
        }
    }
}
