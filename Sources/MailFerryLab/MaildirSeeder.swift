import Foundation
import Glibc

/// Puts messages straight into a Maildir the way an MTA would, with the size fields Dovecot trusts.
///
/// Dovecot takes a message's sizes from the file name when present: `S=` is the physical size and `W=` the virtual
/// size, the RFC 822 size with every line ending as CRLF, which is what POP3 LIST/STAT report (RFC 1939 §5, "exact
/// size" as sent on the wire). A wrong W= gives wrong LIST sizes and "Cached message size smaller than expected"
/// corruption errors, so both are computed here, never guessed.
enum MaildirSeeder {
    /// Process-wide, so two labs in one process never produce the same file name in one second.
    private static let sequence = Locked(0)

    /// Bytes with every LF that is not preceded by CR counted as two (the CR a network transfer adds).
    static func virtualSize(of message: [UInt8]) -> Int {
        var size = message.count
        var previous: UInt8 = 0
        for byte in message {
            if byte == 0x0A && previous != 0x0D {
                size += 1
            }
            previous = byte
        }
        return size
    }

    /// `<time>.M<seq>P<pid>.mailferrylab,S=<n>,W=<n>`. The sequence is zero-padded so that Dovecot, which assigns
    /// UIDs to new files sorted by name, keeps the order in which they were seeded.
    static func fileName(time: Int, sequence: Int, size: Int, virtualSize: Int) -> String {
        let padded = String(repeating: "0", count: max(0, 6 - String(sequence).count)) + String(sequence)
        return "\(time).M\(padded)P\(getpid()).mailferrylab,S=\(size),W=\(virtualSize)"
    }

    /// Creates `Maildir/{cur,new,tmp}` (and the home above it) owned by the mail identity.
    static func createMaildir(_ maildir: URL, identity: MailIdentity) throws {
        let home = maildir.deletingLastPathComponent()
        for directory in [home, maildir] + ["cur", "new", "tmp"].map({ maildir.appendingPathComponent($0) }) {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try identity.own(directory)
        }
    }

    /// Writes each message into tmp/ and renames it into new/ (or cur/ with the \Seen flag), the Maildir delivery
    /// discipline, so a Dovecot scanning the folder at that moment never sees half a message. No fsync: a lab is
    /// thrown away after the test, and fsync per message would dominate seeding time.
    static func deliver(_ messages: [[UInt8]], into maildir: URL, identity: MailIdentity, seen: Bool) throws
        -> [String]
    {
        let time = Int(Date().timeIntervalSince1970)
        var names: [String] = []
        for message in messages {
            let number = sequence.withLock { value -> Int in
                value += 1
                return value
            }
            let base = fileName(
                time: time, sequence: number, size: message.count, virtualSize: virtualSize(of: message))
            let name = seen ? base + ":2,S" : base
            let temporary = maildir.appendingPathComponent("tmp").appendingPathComponent(base)
            let final = maildir.appendingPathComponent(seen ? "cur" : "new").appendingPathComponent(name)
            try write(message, to: temporary, identity: identity)
            guard rename(temporary.path, final.path) == 0 else { throw LabError.posix("rename(\(final.path))") }
            names.append(name)
        }
        return names
    }

    private static func write(_ bytes: [UInt8], to url: URL, identity: MailIdentity) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError.posix("open(\(url.path))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 && errno == EINTR {
                continue
            }
            guard written > 0 else { throw LabError.posix("write(\(url.path))") }
            offset += written
        }
        if identity.canChown {
            guard fchown(fd, identity.uid, identity.gid) == 0 else { throw LabError.posix("fchown(\(url.path))") }
        }
    }
}
