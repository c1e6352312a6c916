import Foundation
import MailCore
import MailSystem

extension POP3Client {
    /// RETR (RFC 1939 §7): streams message `number`, dot-unstuffed, to `sink` chunk by chunk. When the server
    /// announces PIPELINING (RFC 2449 §6.6), RETR commands for `upcoming` messages are sent ahead, up to the
    /// endpoint's window, so the server never waits for us between messages. Replies are always read in order.
    /// A connection closed before the terminating "." throws: the partial message must not be delivered.
    /// A -ERR for this one message (say, deleted meanwhile by the person's mail program) throws without botching
    /// the session: replies stay in step, and the other messages can still be fetched.
    public func retrieve(
        _ number: Int, upcoming: ArraySlice<Int> = [],
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var refusal: POP3Reply?
        refusedRetrieval = nil
        try guarded {
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            if pendingRetrievals.isEmpty {
                try send("RETR \(number)")
                pendingRetrievals.append(number)
            }
            guard pendingRetrievals.first == number else {
                throw MailError(
                    .protocol,
                    "internal: RETR \(number) requested while RETR \(pendingRetrievals[0]) "
                        + "is the next reply")
            }
            let window = capabilities.pipelining ? max(1, endpoint.pipelineWindow) : 1
            for next in upcoming.prefix(window - 1) where !pendingRetrievals.contains(next) {
                try send("RETR \(next)")
                pendingRetrievals.append(next)
            }
            pendingRetrievals.removeFirst()
            let reply = try readReply()
            guard reply.ok else {
                refusal = reply
                return
            }
            try conn.readDotBody(sink)
        }
        if let refusal {
            refusedRetrieval = number
            throw classify(refusal, doing: "RETR \(number)", defaultKind: .transient).context("pop3 \(endpoint.label)")
        }
    }
}
