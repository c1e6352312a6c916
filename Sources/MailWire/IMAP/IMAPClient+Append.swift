import Foundation
import MailCore
import MailSystem

/// Where an APPEND landed (UIDPLUS, RFC 4315 §3): nil fields when the server does not say.
public struct IMAPAppendUID: Sendable, Equatable {
    public var uidValidity: UInt32
    public var uid: UInt32

    package init(uidValidity: UInt32, uid: UInt32) {
        self.uidValidity = uidValidity
        self.uid = uid
    }
}

/// Collects small writes into large ones: a command line, a header and the first part of a body leave in one TLS
/// record and one segment instead of three (TCP_NODELAY is set, so nothing else would merge them).
struct WriteBuffer {
    private(set) var bytes: [UInt8] = []
    let limit: Int

    init(limit: Int = 256 * 1024) {
        self.limit = limit
        bytes.reserveCapacity(limit + 1024)
    }

    mutating func append(_ more: UnsafeRawBufferPointer, to conn: Connection) throws {
        if bytes.count + more.count > limit { try flush(to: conn) }
        if more.count >= limit {
            try conn.write(more)
        } else {
            bytes.append(contentsOf: more)
        }
    }

    mutating func append(_ more: [UInt8], to conn: Connection) throws {
        try more.withUnsafeBytes { try append($0, to: conn) }
    }

    mutating func flush(to conn: Connection) throws {
        guard !bytes.isEmpty else { return }
        try conn.write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

extension IMAPClient {
    /// APPEND (RFC 9051 §6.3.12): stores `prefix` (a provenance header, or nothing) followed by the spool's bytes,
    /// exactly, with `flags` and INTERNALDATE `date`. The literal goes without waiting for "+" when the server offers
    /// LITERAL+ (RFC 7888). Returns the APPENDUID when the server has UIDPLUS (RFC 4315).
    ///
    /// A NO is thrown classified (OVERQUOTA → quota, TRYCREATE/LIMIT/TOOBIG → permanent; the code is kept in
    /// `MailError.code`) and leaves the session usable; a broken connection botches it.
    package func append(to wireName: String, flags: [String], date: Date, prefix: [UInt8], spool: SpoolFile) throws
        -> IMAPAppendUID?
    {
        let mailbox = try checkAppend(to: wireName, flags: flags, size: prefix.count + spool.size)
        var refusal: IMAPResponse?
        let appended: IMAPAppendUID? = try guarded {
            guard
                let tag = try sendAppend(
                    mailbox, flags: flags, date: date, prefix: prefix, spool: spool,
                    refusal: &refusal)
            else { return nil }
            do {
                return try readAppendAnswer(tag: tag, refusal: &refusal)
            } catch let error as MailError {
                throw error.leavingDeliveryInDoubt()
            }
        }
        if let refusal {
            throw classify(refusal, doing: "APPEND to \(wireName)").context("imap \(endpoint.label)")
        }
        return appended
    }

    /// Whether an APPEND of `size` bytes can be pipelined: its literal must go without waiting for "+".
    package func canPipelineAppend(size: Int) -> Bool {
        nonSynchronizing(size)
    }

    /// Sends an APPEND (non-synchronizing literal: `canPipelineAppend`) and returns its tag at once, without reading
    /// the answer: several can be on the wire while the server stores them. `appendAnswer(tag:)` reads the answers
    /// in the order they were sent. The checks of `append` are made first and thrown, nothing sent.
    package func pipelineAppend(to wireName: String, flags: [String], date: Date, prefix: [UInt8], spool: SpoolFile)
        throws -> String
    {
        let mailbox = try checkAppend(to: wireName, flags: flags, size: prefix.count + spool.size)
        guard canPipelineAppend(size: prefix.count + spool.size) else {
            throw MailError(.protocol, "imap \(endpoint.label): APPEND cannot be pipelined without LITERAL+")
        }
        var refusal: IMAPResponse?
        return try guarded {
            // Never nil: a non-synchronizing literal waits for no "+" that could be refused.
            try sendAppend(mailbox, flags: flags, date: date, prefix: prefix, spool: spool, refusal: &refusal) ?? ""
        }
    }

    /// The answer to a pipelined APPEND: where it landed, or the NO that refused it (the session stays usable). A
    /// broken connection or a malformed answer throws and botches the session: then none of the outstanding
    /// APPENDs is known to have landed or not.
    package func appendAnswer(tag: String, folder wireName: String) throws -> Result<IMAPAppendUID?, MailError> {
        var refusal: IMAPResponse?
        let appended = try guarded { try readAppendAnswer(tag: tag, refusal: &refusal) }
        if let refusal {
            return .failure(classify(refusal, doing: "APPEND to \(wireName)").context("imap \(endpoint.label)"))
        }
        return .success(appended)
    }

    /// What is refused before anything is sent: over the server's APPENDLIMIT, a flag that is not one, a folder name
    /// that cannot be quoted. Returns the quoted folder name.
    private func checkAppend(to wireName: String, flags: [String], size: Int) throws -> String {
        // RFC 7889: a server announcing APPENDLIMIT refuses bigger messages; say so without sending them.
        if let limit = capabilities.compactMap({ $0.hasPrefix("APPENDLIMIT=") ? Int($0.dropFirst(12)) : nil }).first,
            size > limit
        {
            throw MailError(
                .permanent,
                "imap \(endpoint.label): the message (\(size) bytes) is larger than the "
                    + "server's APPENDLIMIT of \(limit) bytes", code: .imap(.tooBig))
        }
        for flag in flags
        where flag.isEmpty
            || flag.utf8.contains(where: {
                $0 <= 32 || $0 >= 127 || "(){%*\"]".utf8.contains($0) || ($0 == 92 && flag.utf8.first != 92)
            })
        {
            throw MailError(
                .permanent,
                "imap \(endpoint.label): \(sanitizeForDisplay(flag, limit: 40)) is not a "
                    + "valid flag (RFC 9051 §9 flag)")
        }
        guard let mailbox = IMAPString.quoted(wireName) else {
            throw MailError(.permanent, "imap \(endpoint.label): the folder name cannot be sent as a quoted string")
        }
        return mailbox
    }

    /// Sends the APPEND command and its literal; returns the tag, or nil when the server refused it before the
    /// literal (`refusal`, synchronizing literals only).
    private func sendAppend(
        _ mailbox: String, flags: [String], date: Date, prefix: [UInt8], spool: SpoolFile,
        refusal: inout IMAPResponse?
    ) throws -> String? {
        guard let conn = connection, !botched else { throw MailError(.transient, "not connected") }
        let size = prefix.count + spool.size
        let tag = nextTag()
        let nonSync = nonSynchronizing(size)
        let head =
            "\(tag) APPEND \(mailbox) (\(flags.joined(separator: " "))) "
            + "\"\(IMAPString.internalDate(date))\" {\(size)\(nonSync ? "+" : "")}"
        trace?("C: \(head) <\(size) bytes>")
        var buffer = WriteBuffer()
        try buffer.append(Array((head + "\r\n").utf8), to: conn)
        if !nonSync {
            try buffer.flush(to: conn)
            var untagged: [IMAPResponse] = []
            if let early = try awaitContinuation(tag: tag, untagged: &untagged) {
                refusal = early
                return nil
            }
        }
        try buffer.append(prefix, to: conn)
        var sent = prefix.count
        var halfway = CrashPoint.armed("imap-append-literal")
        try spool.readChunks { chunk in
            sent += chunk.count
            guard sent <= size else { return }
            if halfway {
                // A test's crash point, truly mid-literal: the first half of the first chunk (of a small message,
                // half the message) reaches the server, the process dies, the rest never leaves.
                halfway = false
                let half = max(1, chunk.count / 2)
                try buffer.append(UnsafeRawBufferPointer(rebasing: chunk[..<half]), to: conn)
                try buffer.flush(to: conn)
                CrashPoint.hit("imap-append-literal")
                try buffer.append(UnsafeRawBufferPointer(rebasing: chunk[half...]), to: conn)
            } else {
                try buffer.append(chunk, to: conn)
            }
        }
        guard sent == size else {
            // The spool changed under us; the literal's length would lie. Abandon the connection.
            throw MailError(.local, "the spool file \(spool.path) changed while it was being sent")
        }
        try buffer.append([13, 10], to: conn)
        try buffer.flush(to: conn)
        return tag
    }

    /// Reads up to the APPEND's tagged answer: its APPENDUID (nil without UIDPLUS), or nil with `refusal` set.
    private func readAppendAnswer(tag: String, refusal: inout IMAPResponse?) throws -> IMAPAppendUID? {
        let reply = try collect(tag: tag).tagged
        guard reply.status == .ok else {
            refusal = reply
            return nil
        }
        guard reply.code == .appendUID else { return nil }
        let parts = reply.codeArguments.split(separator: " ")
        guard parts.count >= 2, let validity = UInt32(parts[0]), let uid = UInt32(parts[1]) else {
            throw MailError(.protocol, "malformed APPENDUID: \(reply.codeArguments)")
        }
        return IMAPAppendUID(uidValidity: validity, uid: uid)
    }
}
