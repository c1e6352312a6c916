import COpenSSL
import Foundation
import MailCore
import MailFerry
import MailFerryLab
import MailStore
import MailSystem
import MailWire

/// SHA-256 of some bytes, as a hashable value.
struct Digest: Hashable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ bytes: UnsafeRawBufferPointer) {
        var out = [UInt8](repeating: 0, count: 32)
        _ = SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &out)
        func word(_ i: Int) -> UInt64 { out[i..<(i + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        (a, b, c, d) = (word(0), word(8), word(16), word(24))
    }

    init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { Digest($0) }
    }
}

/// What was seeded, as digests only (20,000 messages are 1.5 GB): the bytes POP3 RETR gives (Dovecot turns bare LF
/// into CRLF) and the same with LF line ends (how Dovecot stores what arrives by IMAP or LMTP, and how getmail
/// writes Maildir files).
struct Expected {
    var retr: [Digest: Int] = [:]
    var lf: [Digest: Int] = [:]
    /// LF line ends and no trace fields at all (`Verify.withoutTrace`).
    var traceless: [Digest: Int] = [:]
    var count = 0
    var bytes = 0

    mutating func add(_ message: [UInt8]) {
        let served = DovecotLab.served(message)
        retr[Digest(served), default: 0] += 1
        let lf = DovecotLab.stored(served)
        self.lf[Digest(lf), default: 0] += 1
        traceless[Digest(Verify.withoutTrace(lf)), default: 0] += 1
        count += 1
        bytes += served.count
    }

}

/// How a tool's output compares with what was seeded.
struct Verdict {
    var identical = 0
    /// Files that match no seeded message, even after removing the trace headers the tool is known to add.
    var altered = 0
    /// Files equal to a seeded message once every trace field (Return-Path, Delivered-To, Received, …) is left out
    /// of both: the tool moved or dropped some of them.
    var traceChanged = 0
    /// Seeded messages with no identical file.
    var missing = 0
    /// Header fields the tool added on top of messages (and that were removed before comparing).
    var added: Set<String> = []

    var complete: Bool { altered == 0 && missing == 0 && traceChanged == 0 }

    var text: String {
        var parts = ["\(identical) identical"]
        if traceChanged > 0 { parts.append("\(traceChanged) identical but for trace fields") }
        if altered > 0 { parts.append("\(altered) altered") }
        if missing > 0 { parts.append("\(missing) missing") }
        if !added.isEmpty { parts.append("+" + added.sorted().joined(separator: ",")) }
        return parts.joined(separator: ", ")
    }
}

enum Verify {
    enum Form {
        /// Byte for byte what RETR served.
        case retr
        /// With LF line ends (Dovecot's storage), nothing added.
        case lf
        /// With LF line ends, after removing up to 4 trace header fields a peer adds on top.
        case peer
    }

    /// Trace fields delivery agents put on top of a message (Dovecot LMTP: Return-Path, Delivered-To, Received;
    /// fetchmail: Received; getmail: Delivered-To, Received, Return-Path unless turned off).
    static let traceFields: Set<String> = [
        "return-path", "delivered-to", "received", "x-original-to", "status",
        "x-getmail-retrieved-from-mailbox",
    ]

    static func files(in maildirs: [String]) -> [String] {
        var paths: [String] = []
        for dir in maildirs {
            for sub in ["new", "cur"] {
                let folder = dir + "/" + sub
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                    paths.append(folder + "/" + name)
                }
            }
        }
        return paths
    }

    static func check(_ maildirs: [String], against expected: Expected, form: Form) -> Verdict {
        var remaining = form == .retr ? expected.retr : expected.lf
        var traceless = expected.traceless
        var verdict = Verdict()
        var preferred = 0
        for path in files(in: maildirs) {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let raw = [UInt8](data)
            let bytes = form == .retr ? raw : DovecotLab.stored(raw)
            let fieldStarts = topFieldStarts(bytes, limit: form == .peer ? 4 : 0)
            var matched = false
            for k in ([preferred] + Array(0..<fieldStarts.count)) where k < fieldStarts.count {
                let start = fieldStarts[k].offset
                let digest = bytes.withUnsafeBytes { Digest(UnsafeRawBufferPointer(rebasing: $0[start...])) }
                if let left = remaining[digest], left > 0 {
                    remaining[digest] = left - 1
                    verdict.identical += 1
                    verdict.added.formUnion(fieldStarts[..<k].map { $0.name })
                    preferred = k
                    matched = true
                    break
                }
            }
            if !matched && form == .peer {
                let digest = Digest(withoutTrace(bytes))
                if let left = traceless[digest], left > 0 {
                    traceless[digest] = left - 1
                    verdict.traceChanged += 1
                    matched = true
                }
            }
            if !matched { verdict.altered += 1 }
        }
        verdict.missing = expected.count - verdict.identical - verdict.traceChanged
        return verdict
    }

    /// The message (LF line ends) without any trace field in its header.
    static func withoutTrace(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var offset = 0
        while offset < bytes.count && bytes[offset] != 10 {
            var end = offset
            while end < bytes.count {
                guard let lf = bytes[end...].firstIndex(of: 10) else {
                    end = bytes.count
                    break
                }
                end = lf + 1
                if end >= bytes.count || (bytes[end] != 32 && bytes[end] != 9) { break }
            }
            let colon = bytes[offset..<end].prefix(80).firstIndex(of: 58)
            let name = colon.map { String(decoding: bytes[offset..<$0], as: UTF8.self).lowercased() } ?? ""
            if !traceFields.contains(name) { out += bytes[offset..<end] }
            offset = end
        }
        out += bytes[offset...]
        return out
    }

    /// Offsets where the message would start if the first k trace fields were not there (k = 0...limit), with
    /// the names of the fields skipped. Only known trace fields are skipped.
    static func topFieldStarts(_ bytes: [UInt8], limit: Int) -> [(offset: Int, name: String)] {
        var starts: [(offset: Int, name: String)] = []
        var offset = 0
        while starts.count <= limit {
            let colon = bytes[offset...].prefix(80).firstIndex(of: 58)
            let name = colon.map { String(decoding: bytes[offset..<$0], as: UTF8.self) } ?? ""
            starts.append((offset, name))
            guard starts.count <= limit, traceFields.contains(name.lowercased()) else { break }
            // The field ends at a LF not followed by a space or tab (folded lines continue it).
            var end = offset
            while end < bytes.count {
                guard let lf = bytes[end...].firstIndex(of: 10) else { return starts }
                end = lf + 1
                if end >= bytes.count || (bytes[end] != 32 && bytes[end] != 9) { break }
            }
            offset = end
        }
        return starts
    }
}
