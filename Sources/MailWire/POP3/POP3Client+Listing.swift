import Foundation
import MailCore
import MailSystem

/// One message in a maildrop listing: its session number, its unique id and its size in octets.
public struct POP3Entry: Sendable, Equatable {
    public var number: Int
    public var uidl: String
    public var size: Int

    public init(number: Int, uidl: String, size: Int) {
        self.number = number
        self.uidl = uidl
        self.size = size
    }
}

/// A maildrop listing.
public struct POP3Listing: Sendable, Equatable {
    public var entries: [POP3Entry]
    /// UIDLs the server gave to more than one message (a server bug): those messages are told apart by content.
    public var duplicateUIDLs: Set<String>
    /// False when the server has no UIDL: entries then carry an empty uidl and the caller derives identity.
    public var hasUIDL: Bool
    /// Message numbers whose UIDL broke RFC 1939 §7 (control bytes, 8-bit, spaces, over 70 characters). Their
    /// entries carry a stable stand-in ("~" and a hash of the server's bytes) so the message is not lost.
    public var invalidUIDLs: [Int] = []
}

extension POP3Client {
    /// The listing of a server that must have UIDL, as entries.
    public func listing() throws -> [POP3Entry] {
        let drop = try maildrop()
        guard drop.hasUIDL else {
            throw MailError(.permanent, "pop3 \(endpoint.label): the server does not support UIDL")
        }
        return drop.entries
    }

    /// The maildrop listing: UIDL (RFC 1939 §7) joined with LIST sizes. Message numbers must run 1...n without
    /// gaps in both. Without UIDL support the listing comes back with `hasUIDL == false` (the caller decides).
    public func maildrop() throws -> POP3Listing {
        try guarded {
            let listReply = try command("LIST")
            guard listReply.ok else { throw classify(listReply, doing: "LIST") }
            var sizes: [Int] = []
            for line in try readMultiLine() {
                let (number, rest) = Self.leadingNumber(line[...])
                guard let number, let size = Self.leadingNumber(rest).number else {
                    throw MailError(.protocol, "malformed LIST line: \(sanitizeForDisplay(line, limit: 120))")
                }
                guard number == sizes.count + 1 else {
                    throw MailError(
                        .protocol,
                        "LIST numbers are not consecutive (message \(number) after "
                            + "\(sizes.count)); refusing to guess which message is which")
                }
                sizes.append(size)
            }
            let uidlReply = try command("UIDL")
            guard uidlReply.ok else {
                return POP3Listing(
                    entries: sizes.enumerated().map { POP3Entry(number: $0 + 1, uidl: "", size: $1) },
                    duplicateUIDLs: [], hasUIDL: false)
            }
            var uidls: [String] = []
            var invalid: [Int] = []
            for line in try readMultiLine() {
                let (number, rest) = Self.leadingNumber(line[...])
                guard let number, !rest.isEmpty else {
                    throw MailError(.protocol, "malformed UIDL line: \(sanitizeForDisplay(line, limit: 120))")
                }
                guard number == uidls.count + 1 else {
                    throw MailError(
                        .protocol,
                        "UIDL numbers are not consecutive (message \(number) after "
                            + "\(uidls.count)); refusing to guess which message is which")
                }
                let uid = Array(rest)
                // RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E. Anything else still names one
                // message on this server, so it is kept under a printable, stable stand-in.
                if !uid.isEmpty, uid.count <= 70, uid.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) {
                    uidls.append(String(decoding: uid, as: UTF8.self))
                } else {
                    invalid.append(number)
                    uidls.append("~" + SHA256Hasher.hex(uid).prefix(40))
                }
            }
            guard uidls.count == sizes.count else {
                throw MailError(.protocol, "UIDL lists \(uidls.count) messages but LIST lists \(sizes.count)")
            }
            var seen = Set<String>()
            var duplicates = Set<String>()
            for uid in uidls where !seen.insert(uid).inserted { duplicates.insert(uid) }
            let entries = zip(uidls, sizes).enumerated().map { POP3Entry(number: $0 + 1, uidl: $1.0, size: $1.1) }
            return POP3Listing(entries: entries, duplicateUIDLs: duplicates, hasUIDL: true, invalidUIDLs: invalid)
        }
    }

    /// A listing line's leading decimal number (after any spaces; 1 to 18 digits, then a space or the end) and
    /// what follows it with the spaces before it skipped: (nil, _) when the line does not start with one. Parsed in
    /// place, bytes only: a maildrop of thousands of messages lists thousands of lines on every poll.
    static func leadingNumber(_ line: ArraySlice<UInt8>) -> (number: Int?, rest: ArraySlice<UInt8>) {
        var index = line.startIndex
        while index < line.endIndex && line[index] == 32 { index += 1 }
        var value = 0
        let digitsStart = index
        while index < line.endIndex, line[index].isASCIIDigit, index - digitsStart < 18 {
            value = value * 10 + Int(line[index] - 0x30)
            index += 1
        }
        guard index > digitsStart, index == line.endIndex || line[index] == 32 else { return (nil, line[index...]) }
        while index < line.endIndex && line[index] == 32 { index += 1 }
        return (value, line[index...])
    }

    /// Re-reads capabilities after login (RFC 2449 §5 allows CAPA in the transaction state): EXPIRE and
    /// LOGIN-DELAY may be announced per user only then.
    public func refreshCapabilitiesAfterLogin() throws {
        guard capabilities.known else { return }
        try guarded { try readCapabilities() }
    }

    /// A message's header block (TOP n 0, RFC 1939 §7), at most `limit` bytes kept (the rest is read and dropped).
    public func headers(_ number: Int, limit: Int = HeaderBlock.Limits.default.readBytes) throws -> [UInt8] {
        try guarded {
            let reply = try command("TOP \(number) 0")
            guard reply.ok else { throw classify(reply, doing: "TOP \(number) 0") }
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            var bytes: [UInt8] = []
            try conn.readDotBody { chunk in
                if bytes.count < limit { bytes.append(contentsOf: chunk.prefix(limit - bytes.count)) }
            }
            return bytes
        }
    }

    /// SHA-256 of a message's header block (TOP n 0, RFC 1939 §7): identity for servers without UIDL.
    public func headerFingerprint(_ number: Int) throws -> String {
        try guarded {
            let reply = try command("TOP \(number) 0")
            guard reply.ok else { throw classify(reply, doing: "TOP \(number) 0") }
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            let hasher = SHA256Hasher()
            try conn.readDotBody { hasher.update($0) }
            return hasher.finalizeHex()
        }
    }
}
