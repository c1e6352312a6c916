import Foundation
import Glibc

/// Writing mail into a GNU Mailutils mbox the way a local delivery agent would, and the model of what Mailutils 3.15
/// pop3d then sends for it. Every rule here was observed against the Debian package (see `MailutilsLab.notes`).
///
/// Mailutils reads mbox as mboxrd: on reading it removes one ">" from every body line matching `^>+From `, and when
/// it rewrites the file it adds one back. So the writer adds one ">" to every line matching `^>*From `, and RETR
/// returns those lines as they were.
///
/// Mailutils' mbox parser knows only LF line ends. A CRLF header never ends (its empty line is "\r\n", not empty),
/// runs into the next message's separator and, at the QUIT rewrite, loses its body: measured, not theoretical. The
/// writer therefore stores every CRLF as LF, as Unix delivery agents do; POP3 sends CRLF for every line anyway.
enum MailutilsMbox {
    private static let lf: UInt8 = 0x0A
    private static let cr: UInt8 = 0x0D

    /// The lines of `message` without their line ends; CRLF and LF both end a line, a lone CR is data. A message
    /// that does not end in a line end gets one (POP3 cannot transmit a last line without it).
    static func lines(of message: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = message.startIndex
        var index = message.startIndex
        while index < message.endIndex {
            if message[index] == lf {
                var end = index
                if end > start && message[end - 1] == cr {
                    end -= 1
                }
                lines.append(message[start..<end])
                start = index + 1
            }
            index += 1
        }
        if start < message.endIndex {
            lines.append(message[start..<message.endIndex])
        }
        return lines
    }

    /// The index of the empty line that ends the header, if any.
    static func headerEnd(_ lines: [ArraySlice<UInt8>]) -> Int? {
        lines.firstIndex { $0.isEmpty }
    }

    /// How `message` is stored: LF line ends, mboxrd quoting, an empty line ending the header (added when the message
    /// has none: Mailutils would otherwise read the next message's "From " line as this one's body and merge the two),
    /// without the envelope line and the separating empty line.
    static func stored(_ message: [UInt8]) -> [UInt8] {
        var lines = lines(of: message)
        if headerEnd(lines) == nil {
            lines.append([])
        }
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 64)
        for line in lines {
            if isFromLine(line, quoted: true) {
                out.append(UInt8(ascii: ">"))
            }
            out.append(contentsOf: line)
            out.append(lf)
        }
        return out
    }

    /// `^>*From ` (quoted: true) or `^From `.
    static func isFromLine(_ line: ArraySlice<UInt8>, quoted: Bool) -> Bool {
        var rest = line[...]
        if quoted {
            rest = rest.drop { $0 == UInt8(ascii: ">") }
        }
        return rest.starts(with: Array("From ".utf8))
    }

    /// The envelope line ("From sender date", asctime format in UTC) that starts each message.
    static func envelopeLine(sender: String = "mailferry-lab@localhost", date: Date = Date()) -> [UInt8] {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        let stamp = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Array("From \(sender) \(stamp)\n".utf8)
    }

    // MARK: - What pop3d sends

    /// The bytes RETR sends for a message seeded with `stored` (dot-unstuffed, before any rewrite of the mbox):
    ///
    /// - every line ends in CRLF (LF and CRLF alike; a lone CR stays), and the last line has one;
    /// - an empty line is added after a header that had none (see `stored`);
    /// - the header is re-serialized field by field: whitespace between the field name and the colon is removed,
    ///   the whitespace after the colon becomes exactly one space (also for an empty value: "X-Empty: "),
    ///   continuation lines stay as they were; the first header line that is neither a field nor a continuation
    ///   (no colon) is dropped together with every header line after it (the body stays);
    /// - `X-UIDL: <uidl>` is added as the last header field once the session has computed UIDLs (a UIDL command
    ///   before the RETR); pass nil for a session that sent no UIDL.
    static func retrieved(_ message: [UInt8], uidl: String?) -> [UInt8] {
        var lines = lines(of: message)
        if headerEnd(lines) == nil {
            lines.append([])
        }
        let end = headerEnd(lines)!
        var header: [[UInt8]] = []
        for line in lines[..<end] {
            if let first = line.first, first == 0x20 || first == 0x09 {
                header.append(Array(line))
                continue
            }
            // The header parser stops at the first line that is neither a field nor a continuation.
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { break }
            var name = line[line.startIndex..<colon]
            while let last = name.last, last == 0x20 || last == 0x09 {
                name = name.dropLast()
            }
            let value = line[(colon + 1)...].drop { $0 == 0x20 || $0 == 0x09 }
            header.append(Array(name) + Array(": ".utf8) + Array(value))
        }
        if let uidl {
            header.append(Array("X-UIDL: \(uidl)".utf8))
        }
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 128)
        for line in header {
            out.append(contentsOf: line)
            out.append(contentsOf: [cr, lf])
        }
        for line in lines[end...] {
            out.append(contentsOf: line)
            out.append(contentsOf: [cr, lf])
        }
        return out
    }

    // MARK: - Appending under the lock

    /// Appends `messages` to the mbox at `file` (created if missing, owned by `identity`), holding the dotlock
    /// `<file>.lock` that pop3d itself takes for a whole session. Waits at most `timeout` for the lock.
    static func append(_ messages: [[UInt8]], to file: URL, identity: MailIdentity, timeout: TimeInterval = 10) throws {
        let lock = file.path + ".lock"
        try acquire(lock, timeout: timeout)
        defer { unlink(lock) }

        let fd = open(file.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError.posix("open(\(file.path))") }
        defer { close(fd) }
        try identity.own(file)

        var data: [UInt8] = []
        // A file rewritten by hand might lack the empty line after its last message; "From " must follow one.
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else { throw LabError.posix("lseek(\(file.path))") }
        if size > 0 {
            let want = Int(min(size, 2))
            var tail = [UInt8](repeating: 0, count: want)
            guard pread(fd, &tail, want, size - off_t(want)) == want else {
                throw LabError.posix("pread(\(file.path))")
            }
            if tail.last != lf {
                data.append(contentsOf: [lf, lf])
            } else if want == 2 && tail[0] != lf {
                data.append(lf)
            }
        }
        let envelope = envelopeLine()
        for message in messages {
            data.append(contentsOf: envelope)
            data.append(contentsOf: stored(message))
            data.append(lf)
        }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw LabError.posix("write(\(file.path))")
                }
                offset += written
            }
        }
    }

    /// Creates the dotlock with O_EXCL (what Mailutils' dotlocker also relies on; it writes its pid, so do we).
    private static func acquire(_ lock: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                let pid = Array(String(getpid()).utf8)
                _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                return
            }
            guard errno == EEXIST else { throw LabError.posix("open(\(lock), O_EXCL)") }
            guard Date() < deadline else {
                throw LabError(
                    "the mbox lock \(lock) is still held after \(Int(timeout)) s: a POP3 session is open "
                        + "on that mailbox (pop3d holds the lock until QUIT or disconnect)")
            }
            usleep(10_000)
        }
    }
}
