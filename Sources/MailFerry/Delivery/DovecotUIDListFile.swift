import Foundation
import Glibc
import MailCore
import MailSystem

/// The `dovecot-uidlist` of a Maildir, changed under Dovecot's own lock protocol (maildir-uidlist.c,
/// `maildir_uidlist_lock` and `maildir_uidlist_recreate`; file-dotlock.c): the lock is the file
/// `dovecot-uidlist.lock`, created with O_EXCL beside it and holding "<pid>:<host>". Whoever holds it may rewrite the
/// uidlist; Dovecot (delivering, or serving POP3/IMAP) waits for it up to about two minutes, overrides a lock whose
/// process on this host is gone, and one untouched for `staleSeconds` (MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT). New
/// records are appended in one write, as Dovecot appends them (it reads lines for UIDs it has not seen yet). A record
/// that changes needs the whole list: written into `dovecot-uidlist.tmp`, synced and renamed over `dovecot-uidlist`
/// (a reader sees the old list or the new one; Dovecot notices the new inode and reads the list again from its
/// start; an appended line for a UID it has read would be ignored). Then the lock is removed.
///
/// Everything goes through the Maildir folder's descriptor, never following a symbolic link (O_NOFOLLOW).
final class DovecotUIDListFile {
    static let name = "dovecot-uidlist"
    static let lockName = "dovecot-uidlist.lock"
    static let tempName = "dovecot-uidlist.tmp"
    /// Dovecot overrides a uidlist lock whose file is this old; so does mailferry.
    static let staleSeconds = 120.0
    /// How long mailferry waits for a lock another process holds: past Dovecot's own stale time, so a lock left by
    /// a process that died is overridden within the wait.
    static let waitSeconds = 150.0

    private let folderFD: Int32
    private let creation: MaildirCreation
    private let root: String
    private let fault: FaultPoint?
    private var lockFD: Int32 = -1

    /// Takes the lock of the uidlist in the Maildir open as `folderFD` (waiting, bounded, for another holder).
    init(folderFD: Int32, root: String, creation: MaildirCreation, fault: FaultPoint?) throws {
        self.folderFD = folderFD
        self.root = root
        self.creation = creation
        self.fault = fault
        try lock()
    }

    deinit { release() }

    private func lock() throws {
        let deadline = monotonicSeconds() + Self.waitSeconds
        var pause: useconds_t = 2_000
        while true {
            let fd = openat(
                folderFD, Self.lockName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, creation.fileMode)
            if fd >= 0 {
                lockFD = fd
                // Who holds it, as Dovecot's dotlocks say: a lock of a process that died is overridden at once.
                let holder = Array("\(getpid()):\(Self.hostName)\n".utf8)
                guard creation.apply(to: fd, folder: false) == 0, Glibc.write(fd, holder, holder.count) == holder.count
                else { throw failure("cannot write \(Self.lockName)") }
                return
            }
            guard errno == EEXIST else { throw failure("cannot create \(Self.lockName)") }
            if overrideStaleLock() { continue }
            guard monotonicSeconds() < deadline else {
                throw MailError(
                    .transient,
                    "Maildir \(root): \(Self.lockName) is held by another process (Dovecot?) for more than "
                        + "\(Int(Self.waitSeconds)) s; the POP3 UIDLs could not be recorded, so nothing was delivered "
                        + "now")
            }
            usleep(pause)
            pause = min(pause * 2, 100_000)
        }
    }

    /// Removes a lock nobody has touched for `staleSeconds`, or whose process on this host is gone, as Dovecot
    /// would; true when it was removed (or is gone).
    private func overrideStaleLock() -> Bool {
        var info = stat()
        guard fstatat(folderFD, Self.lockName, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return errno == ENOENT }
        let age = Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec)
        guard age > Self.staleSeconds || holderIsGone() else { return false }
        // The same file still (not one another process created meanwhile)?
        var again = stat()
        guard fstatat(folderFD, Self.lockName, &again, AT_SYMLINK_NOFOLLOW) == 0, again.st_ino == info.st_ino,
            again.st_mtim.tv_sec == info.st_mtim.tv_sec
        else { return true }
        return unlinkat(folderFD, Self.lockName, 0) == 0 || errno == ENOENT
    }

    /// Whether the lock names a process of this host that no longer exists (file-dotlock.c, `read_local_pid`).
    private func holderIsGone() -> Bool {
        let fd = openat(folderFD, Self.lockName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = Glibc.read(fd, &buffer, buffer.count)
        Glibc.close(fd)
        guard n > 0 else { return false }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .newlines)
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, String(parts[1]) == Self.hostName, let pid = pid_t(parts[0]), pid > 0 else {
            return false
        }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The uidlist as it is now (nil: there is none yet).
    func read() throws -> DovecotUIDList? {
        let fd = openat(folderFD, Self.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure("cannot open \(Self.name)")
        }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retryingEINTR { Glibc.read(fd, &buffer, buffer.count) }
            if n < 0 { throw failure("cannot read \(Self.name)") }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        do {
            return try DovecotUIDList.parse(bytes)
        } catch {
            throw MailError(
                .local,
                "Maildir \(root): \(Self.name) cannot be read (\(error.reason)); let Dovecot open the mailbox "
                    + "once to rewrite it, then run again")
        }
    }

    /// A uidlist for a Maildir without one: the UIDVALIDITY and next UID of Dovecot's index when it has one there
    /// (a mailbox opened before), else the time, as Dovecot picks a first UIDVALIDITY.
    func fresh() -> DovecotUIDList {
        var header = [UInt8](repeating: 0, count: 32)
        let fd = openat(folderFD, "dovecot.index", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            defer { Glibc.close(fd) }
            // struct mail_index_header (mail-index.h): major version 7; uid_validity at 24, next_uid at 28.
            if Glibc.read(fd, &header, 32) == 32, header[0] == 7 {
                let word = { (at: Int) in (0..<4).reduce(UInt32(0)) { $0 | UInt32(header[at + $1]) << (8 * $1) } }
                if word(24) != 0 { return .fresh(uidValidity: word(24), nextUID: word(28)) }
            }
        }
        return .fresh(uidValidity: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
    }

    /// Writes `list` into `dovecot-uidlist.tmp`, syncs it, renames it over the uidlist and syncs the folder. A
    /// failure leaves the old uidlist. The lock stays held until `release`.
    func replace(with list: DovecotUIDList) throws {
        let bytes = list.render()
        let fd = openat(
            folderFD, Self.tempName, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, creation.fileMode)
        guard fd >= 0 else { throw failure("cannot create \(Self.tempName)") }
        do {
            guard creation.apply(to: fd, folder: false) == 0 else {
                throw failure("cannot give \(Self.tempName) its \(creation.describe)")
            }
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { raw in
                    retryingEINTR { Glibc.write(fd, raw.baseAddress!, raw.count) }
                }
                if n <= 0 { throw failure("cannot write \(Self.tempName)") }
                offset += n
            }
            guard DurableIO.fsync(fd, "uidlist-fsync", fault) == 0 else {
                throw failure("fsync of \(Self.tempName) failed")
            }
        } catch {
            Glibc.close(fd)
            unlinkat(folderFD, Self.tempName, 0)
            throw error
        }
        Glibc.close(fd)
        guard DurableIO.renameat(folderFD, Self.tempName, folderFD, Self.name, "uidlist-rename", fault) == 0 else {
            let error = failure("cannot rename \(Self.tempName) to \(Self.name)")
            unlinkat(folderFD, Self.tempName, 0)
            throw error
        }
        guard DurableIO.fsync(folderFD, "uidlist-fsync-folder", fault) == 0 else {
            throw failure("fsync of the Maildir folder after writing \(Self.name) failed")
        }
    }

    /// Appends record lines to the uidlist in one write and syncs it; false (nothing written) when its last line
    /// has no line end (an append would join two lines): the caller replaces the list instead.
    func append(_ lines: [UInt8]) throws -> Bool {
        let fd = openat(folderFD, Self.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open \(Self.name)") }
        defer { Glibc.close(fd) }
        var info = stat()
        var last: UInt8 = 0
        guard fstat(fd, &info) == 0, info.st_size > 0, pread(fd, &last, 1, info.st_size - 1) == 1 else {
            throw failure("cannot read \(Self.name)")
        }
        guard last == 10 else { return false }
        var offset = 0
        while offset < lines.count {
            let n = lines[offset...].withUnsafeBytes { raw in
                retryingEINTR { pwrite(fd, raw.baseAddress!, raw.count, info.st_size + off_t(offset)) }
            }
            if n <= 0 { throw failure("cannot append to \(Self.name)") }
            offset += n
        }
        guard DurableIO.fsync(fd, "uidlist-fsync", fault) == 0 else { throw failure("fsync of \(Self.name) failed") }
        return true
    }

    /// Gives up the lock without changing the uidlist (idempotent).
    func release() {
        guard lockFD >= 0 else { return }
        Glibc.close(lockFD)
        lockFD = -1
        unlinkat(folderFD, Self.lockName, 0)
    }

    private func failure(_ what: String) -> MailError {
        let code = errno
        let kind: FailureKind = (code == ENOSPC || code == EDQUOT) ? .quota : .local
        return MailError(kind, "Maildir \(root): \(what): \(errnoText(code))")
    }
}
