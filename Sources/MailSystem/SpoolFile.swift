import Foundation
import Glibc
import MailCore

/// A retrieved message on local disk: written once while it streams in from the server (hashed on the way),
/// then read by a delivery. Memory stays constant whatever the message size. One spool file serves a whole mailbox
/// run (`rewind` between messages): creating and deleting a file per message costs the file system more than
/// writing it (ext4 searches recently deleted inodes on every create). A message smaller than the write buffer
/// (most mail) never reaches the file: it is read back from the buffer. A larger one can be handed over whole to a
/// Maildir (`handOver`): renamed into its tmp/ instead of copied there byte by byte.
public final class SpoolFile {
    public let path: String
    private var fd: Int32
    private var hasher = SHA256Hasher()
    /// Reused by every `readChunks`, allocated on first use.
    private var readBuffer: UnsafeMutableRawBufferPointer?
    private var pending: [UInt8] = []
    private static let flushThreshold = 256 * 1024
    public private(set) var size = 0
    public private(set) var sha256 = ""
    /// Whether any byte of the current message went to the file (otherwise all of it is in `pending`).
    private var wroteToFile = false
    /// The file was renamed away (`handOver`): `fd` still reads it, but it is someone's mail now, never to be
    /// written or emptied again; `rewind` starts a new file at `path`.
    private var handedOver = false

    /// Creates (truncating) the spool file at `path`, mode 0600: it holds someone's mail.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 { throw MailError(.local, "cannot create spool file \(path): \(errnoText())") }
        // A file left behind keeps its mode through O_CREAT; it is empty now, and private before any byte of mail.
        fchmod(fd, 0o600)
        pending.reserveCapacity(Self.flushThreshold)
    }

    deinit {
        if fd >= 0 { close(fd) }
        readBuffer?.deallocate()
    }

    /// Empties the file for the next message.
    public func rewind() throws {
        if handedOver {
            // Not a durability point: before the Maildir reported the message delivered it synced the file (fsync
            // writes back every page of it, whichever descriptor wrote it) and closed its own descriptor, both
            // checked.
            close(fd)
            fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0o600)
            if fd < 0 { throw MailError(.local, "cannot create spool file \(path): \(errnoText())") }
            fchmod(fd, 0o600)
            handedOver = false
            wroteToFile = false
        } else if wroteToFile {
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
                throw MailError(.local, "cannot empty spool file \(path): \(errnoText())")
            }
            wroteToFile = false
        }
        hasher = SHA256Hasher()
        pending.removeAll(keepingCapacity: true)
        size = 0
        sha256 = ""
    }

    /// Appends bytes as they arrive.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        if handedOver { throw MailError(.local, "spool file \(path) was handed over: rewind before writing") }
        hasher.update(bytes)
        size += bytes.count
        if bytes.count >= Self.flushThreshold {
            try flush()
            try writeAll(bytes)
            return
        }
        pending.append(contentsOf: bytes)
        if pending.count >= Self.flushThreshold { try flush() }
    }

    /// Ends writing and fixes the hash. What is still buffered stays in memory (it is smaller than the buffer); the
    /// file stays open for reading.
    public func finish() throws {
        if wroteToFile { try flush() }
        sha256 = hasher.finalizeHex()
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try writeAll($0) }
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        wroteToFile = true
        var offset = 0
        while offset < bytes.count {
            let n = retryingEINTR { write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            if n < 0 { throw MailError(.local, "cannot write spool file \(path): \(errnoText())") }
            offset += n
        }
    }

    /// Reads the whole file from the start in chunks of at most `chunkSize` bytes.
    public func readChunks(chunkSize: Int = 256 * 1024, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if !wroteToFile {
            try pending.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let end = min(start + chunkSize, all.count)
                    try body(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                    start = end
                }
            }
            return
        }
        if let existing = readBuffer, existing.count < chunkSize {
            existing.deallocate()
            readBuffer = nil
        }
        let buffer = readBuffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        readBuffer = buffer
        var offset: off_t = 0
        while true {
            let n = retryingEINTR { pread(fd, buffer.baseAddress, chunkSize, offset) }
            if n < 0 { throw MailError(.local, "cannot read spool file \(path): \(errnoText())") }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<min(n, chunkSize)]))
            offset += off_t(n)
        }
    }

    /// Reads up to `limit` bytes from the start (for header parsing).
    public func head(_ limit: Int) throws -> [UInt8] {
        if !wroteToFile { return Array(pending.prefix(limit)) }
        var result = [UInt8](repeating: 0, count: min(limit, size))
        let n = result.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw MailError(.local, "cannot read spool file \(path): \(errnoText())") }
        result.removeSubrange(n...)
        return result
    }

    /// Moves the finished message's file to `name` in the open folder `folder` (a rename, so the same file system
    /// only; a link named `name` is replaced, never followed) when the message
    /// is on disk, and says whether it did. The spool still reads the message afterwards; `rewind` starts a new
    /// file. False (nothing changed) for a message held in memory, or when the rename fails (`EXDEV`, ...): the
    /// caller copies it then.
    public func handOver(into folder: Int32, name: String) -> Bool {
        guard wroteToFile, !handedOver, !sha256.isEmpty else { return false }
        // Checked: a failed rename leaves the spool where it was, and the caller writes a copy instead.
        guard DurableIO.renameat(AT_FDCWD, path, folder, name, "spool-handover", FaultPoint.environment) == 0 else {
            return false
        }
        handedOver = true
        return true
    }

    /// Closes and deletes the file.
    public func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !handedOver { unlink(path) }
    }
}
