import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Delivers into a Maildir the way Dovecot does: write in tmp/, fsync, rename into new/, fsync the directory
/// (https://cr.yp.to/proto/maildir.html). The file name is the delivery token plus `,S=<size>`, so whether an
/// attempt landed is an exact question of whether that name exists in new/ or cur/.
///
/// Staged (`stagingLimit` > 1, as in a run): each message is written into tmp/, and the fsyncs, renames and the one
/// directory fsync happen for a whole batch in `flush`. The file system then commits its
/// journal about twice per batch instead of twice per message. A message is reported delivered only after the flush
/// (the runner commits its "delivered" checkpoint then); a crash before leaves it in tmp/, where `reconcile` finds
/// it absent and removes it, so it is delivered again, once.
///
/// Every fsync, close and rename on the way is checked (a disk or an NFS server reports a lost write only there):
/// a failure before the rename removes the file from tmp/ and refuses the delivery; a failure after it (the sync of
/// new/) leaves the message in doubt, its file named in the error, for `reconcile` to answer. Nothing is reported
/// delivered that is not durably in new/.
public final class MaildirDelivery: Delivery {
    public let root: String
    /// Messages (and bytes) a batch may hold before it is due; 1 makes every delivery durable before it returns.
    public let stagingLimit: Int
    /// The batch a run stages.
    public static let runBatch = 32
    static let stagingBytes = 32 << 20
    /// A batch is flushed at the latest this long after its first message, so mail does not wait unseen in tmp/
    /// behind a slow server.
    static let stagingSeconds = 1.0
    /// Records each message's POP3 UIDL (`DeliveryRequest.pop3UIDL`) and order in Dovecot's `dovecot-uidlist`
    /// (`keepPOP3UIDL` in the plan; MaildirDelivery+POP3UIDL.swift).
    public let keepPOP3UIDL: Bool
    /// Written into tmp/, not yet synced and renamed: their tokens, file names and POP3 UIDLs to keep.
    private var stagedNames: [(token: String, name: String, uidl: String?)] = []

    /// The Maildir folder, tmp/ and new/, opened once: every later step works relative to them, so nothing a
    /// folder is replaced with while a run goes on (a symbolic link) can lead a write elsewhere.
    let folderFD: Int32
    private let tmpFD: Int32
    private let newFD: Int32
    /// Owner, group and modes for what this delivery creates.
    let creation: MaildirCreation
    /// Makes a named fsync, close or rename fail (tests); nil in production unless `MAILFERRY_FAIL_AT` is set.
    var fault: FaultPoint? = FaultPoint.environment

    /// Opens the Maildir at `root`, creating it (and tmp/, new/, cur/) when missing; its parent folder is the root
    /// whose owner and modes what it creates follows.
    public convenience init(root: String, stagingLimit: Int = 1, keepPOP3UIDL: Bool = false) throws {
        try self.init(location: MaildirLocation(path: root), stagingLimit: stagingLimit, keepPOP3UIDL: keepPOP3UIDL)
    }

    /// Opens the Maildir at `location`: the root is created with its parents when missing; each folder below it,
    /// and tmp/, new/ and cur/, is opened without following symbolic links and created when missing, with the
    /// owner, group and mode `ownership` and the root call for (`MaildirCreation`). A symbolic link, or a file, where
    /// one of them should be is refused.
    public init(
        location: MaildirLocation, ownership: MaildirOwnership = MaildirOwnership(),
        stagingLimit: Int = 1, keepPOP3UIDL: Bool = false
    ) throws {
        self.root = location.path
        self.stagingLimit = max(1, stagingLimit)
        self.keepPOP3UIDL = keepPOP3UIDL
        let rootPath = location.root.isEmpty ? "/" : location.root
        var info = stat()
        if stat(rootPath, &info) != 0 { try Self.createRoot(rootPath) }
        let rootFD = open(rootPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0, fstat(rootFD, &info) == 0 else {
            let error = MailError(.local, "cannot open the Maildir root \(rootPath): \(errnoText())")
            if rootFD >= 0 { Glibc.close(rootFD) }
            throw error
        }
        creation = MaildirCreation(root: info, ownership: ownership)
        // Down from the root, one folder at a time; `folder` ends as the Maildir (the root itself when nothing is
        // below it).
        var folder = rootFD
        var tmp: Int32 = -1
        var new: Int32 = -1
        do {
            var path = rootPath
            func child(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }
            let fault = FaultPoint.environment
            for name in location.below {
                let next = try Self.openFolder(name, in: folder, path: child(name), creation: creation, fault: fault)
                Glibc.close(folder)
                folder = next
                path = child(name)
            }
            tmp = try Self.openFolder("tmp", in: folder, path: child("tmp"), creation: creation, fault: fault)
            new = try Self.openFolder("new", in: folder, path: child("new"), creation: creation, fault: fault)
            Glibc.close(try Self.openFolder("cur", in: folder, path: child("cur"), creation: creation, fault: fault))
        } catch {
            Glibc.close(folder)
            if tmp >= 0 { Glibc.close(tmp) }
            if new >= 0 { Glibc.close(new) }
            throw error
        }
        folderFD = folder
        tmpFD = tmp
        newFD = new
    }

    deinit {
        Glibc.close(folderFD)
        Glibc.close(tmpFD)
        Glibc.close(newFD)
    }

    static func fileName(token: String, size: Int) -> String { "\(token),S=\(size)" }

    /// Maildir's answer to an in-doubt attempt is exact: the file name derives from the token. A staged message is
    /// only in tmp/ until the flush renames it: out of sight.
    public var traits: DeliveryTraits { Self.traits(stagingLimit: stagingLimit) }

    /// The traits of a Maildir delivery made with `stagingLimit`.
    public static func traits(stagingLimit: Int) -> DeliveryTraits {
        let batch = DeliveryTraits.Staging(
            messages: stagingLimit, bytes: stagingBytes, seconds: stagingSeconds,
            unseen: true)
        return DeliveryTraits(inDoubt: .exact, confirmsLater: .always, staging: stagingLimit > 1 ? batch : nil)
    }

    /// Stores the message for the one mailbox this Maildir is; envelope recipients and flags are not used.
    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        let staging = stagingLimit > 1 && request.mayStage
        return DeliveryResult(reference: try writeMessage(request, staging: staging), staged: staging)
    }

    public var staged: Int { stagedNames.count }

    public func discardStaged() {
        for (_, name, _) in stagedNames { unlinkat(tmpFD, name, 0) }
        stagedNames = []
    }

    /// `.land`: syncs every staged file, renames it into new/, and syncs new/ once. Every staged delivery lands, or
    /// none is known to (a throw). `.discard`: removes the staged files from tmp/.
    public func flush(_ fate: StagedFate) throws -> [String: Result<String, MailError>] {
        if case .discard = fate { discardStaged() }
        guard !stagedNames.isEmpty else { return [:] }
        let batch = stagedNames
        stagedNames = []
        // Under the uidlist lock when UIDLs are kept: Dovecot cannot number the files before their records exist.
        let names = batch.map(\.name)
        try syncStaged(names)
        try keepingUIDLs(batch.compactMap { staged in staged.uidl.map { (staged.name, $0) } }) {
            try renameStaged(names)
        }
        return Dictionary(batch.map { ($0.token, .success("new/\($0.name)")) }, uniquingKeysWith: { $1 })
    }

    /// Syncs every staged file in tmp/. A throw leaves the whole batch in doubt (the runner keeps every row
    /// "delivering"): what was not renamed stays in tmp/ for `reconcile` to remove, what was is found in new/ by it,
    /// once synced.
    private func syncStaged(_ names: [String]) throws {
        for name in names {
            let fd = openat(tmpFD, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 { throw localError("cannot open tmp/\(name)") }
            guard DurableIO.fsync(fd, "maildir-fsync-file", fault) == 0 else {
                let error = localError("fsync of tmp/\(name) failed")
                Glibc.close(fd)
                throw error
            }
            guard DurableIO.close(fd, "maildir-close-file", fault) == 0 else {
                throw localError("closing tmp/\(name) failed")
            }
        }
    }

    /// Renames every synced staged file into new/, and syncs new/ once.
    private func renameStaged(_ names: [String]) throws {
        do {
            for name in names {
                CrashPoint.hit("maildir-before-rename")
                guard DurableIO.renameat(tmpFD, name, newFD, name, "maildir-rename", fault) == 0 else {
                    throw localError("cannot move tmp/\(name) into new/")
                }
            }
        } catch {
            // Best effort: the batch is in doubt whatever this returns.
            _ = fsync(newFD)
            throw error
        }
        guard DurableIO.fsync(newFD, "maildir-fsync-new", fault) == 0 else {
            throw localError(
                "fsync of new/ failed; " + counted(names.count, "message")
                    + " \(names.count == 1 ? "stays" : "stay") in doubt, in new/ but perhaps not "
                    + "durably: \(names.prefix(3).map { "new/\($0)" }.joined(separator: ", "))"
                    + (names.count > 3 ? ", ..." : ""))
        }
    }

    /// Writes the message into tmp/ (without following a link, and with the owner and mode `creation` asks for),
    /// and unless it is staged syncs it, renames it into new/ and syncs new/.
    private func writeMessage(_ request: DeliveryRequest, staging: Bool) throws -> String {
        let name = Self.fileName(token: request.token, size: request.spool.size)
        // A message spooled to disk is moved into tmp/ whole when the spool is on the same file system (replacing
        // any leftover of an attempt that died before its rename): no second copy of its bytes.
        let handedOver = request.spool.handOver(into: tmpFD, name: name)
        let create = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC
        var fd =
            handedOver
            ? openat(tmpFD, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            : openat(tmpFD, name, create, creation.fileMode)
        if fd < 0 && errno == EEXIST {
            // A leftover of an attempt that died before its rename (removed only then: one system call less for
            // every other message).
            unlinkat(tmpFD, name, 0)
            fd = openat(tmpFD, name, create, creation.fileMode)
        }
        if fd < 0 {
            let error = localError("cannot \(handedOver ? "open" : "create") tmp/\(name)")
            if handedOver { unlinkat(tmpFD, name, 0) }
            throw error
        }
        do {
            let code = creation.apply(to: fd, folder: false)
            if code != 0 {
                errno = code
                throw localError("cannot give tmp/\(name) its \(creation.describe)")
            }
            if !handedOver {
                try request.spool.readChunks { chunk in
                    var offset = 0
                    while offset < chunk.count {
                        let n = retryingEINTR { write(fd, chunk.baseAddress! + offset, chunk.count - offset) }
                        if n < 0 { throw localError("cannot write tmp/\(name)") }
                        offset += n
                    }
                }
            }
            var times = [timespec](repeating: timespec(), count: 2)
            let seconds = request.arrival.timeIntervalSince1970
            times[0] = timespec(tv_sec: Int(seconds), tv_nsec: 0)
            times[1] = times[0]
            futimens(fd, &times)
            if !staging {
                guard DurableIO.fsync(fd, "maildir-fsync-file", fault) == 0 else {
                    throw localError("fsync of tmp/\(name) failed")
                }
            }
        } catch {
            Glibc.close(fd)
            unlinkat(tmpFD, name, 0)
            throw error
        }
        // A close that fails (NFS reports a failed write-back here) leaves the message undelivered.
        guard DurableIO.close(fd, "maildir-close-file", fault) == 0 else {
            let error = localError("closing tmp/\(name) failed")
            unlinkat(tmpFD, name, 0)
            throw error
        }
        return try land(name, request: request, staging: staging)
    }

    /// A message written and closed in tmp/: staged, or renamed into new/ and new/ synced.
    private func land(_ name: String, request: DeliveryRequest, staging: Bool) throws -> String {
        if staging {
            stagedNames.append((request.token, name, request.pop3UIDL))
            return "new/\(name)"
        }
        return try keepingUIDLs(request.pop3UIDL.map { [(name, $0)] } ?? []) { try moveIntoNew(name) }
    }

    /// Renames a synced file from tmp/ into new/ and syncs new/.
    private func moveIntoNew(_ name: String) throws -> String {
        CrashPoint.hit("maildir-before-rename")
        guard DurableIO.renameat(tmpFD, name, newFD, name, "maildir-rename", fault) == 0 else {
            let error = localError("cannot move tmp/\(name) into new/")
            var info = stat()
            if fstatat(newFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
                // A rename that reports failure and happened all the same (EIO after the fact): in doubt.
                throw MailError(
                    error.kind,
                    error.message + "; new/\(name) exists all the same, so the message "
                        + "stays in doubt", code: .inDoubt)
            }
            unlinkat(tmpFD, name, 0)
            throw error
        }
        // The message is in new/ from here; until new/ is synced a crash may lose it: in doubt, never delivered.
        guard DurableIO.fsync(newFD, "maildir-fsync-new", fault) == 0 else {
            let error = localError("fsync of new/ failed")
            throw MailError(
                error.kind,
                error.message + "; new/\(name) is there but perhaps not durably, so the "
                    + "message stays in doubt", code: .inDoubt)
        }
        return "new/\(name)"
    }

    public func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String] {
        guard !attempts.isEmpty else { return [:] }
        let wanted = Set(attempts.map(\.token))
        var found: [String: String] = [:]
        for sub in ["new", "cur"] {
            for name in try listFolder(sub) {
                // Base name: up to the first ',' (size fields) or ':' (flags added by readers in cur/).
                let base = String(name.prefix { $0 != "," && $0 != ":" })
                if wanted.contains(base) { found[base] = "\(sub)/\(name)" }
            }
        }
        for name in try listFolder("tmp") {
            let base = String(name.prefix { $0 != "," && $0 != ":" })
            if wanted.contains(base) { unlinkat(tmpFD, name, 0) }
        }
        // A file found may be there only in the page cache (its run's sync of new/ failed): synced now, or it is
        // not answered for and stays in doubt.
        for sub in Set(found.values.map { String($0.prefix { $0 != "/" }) }).sorted() {
            let fd = openat(folderFD, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw localError("cannot open \(sub)/ to sync it") }
            defer { Glibc.close(fd) }
            guard DurableIO.fsync(fd, "maildir-fsync-\(sub)", fault) == 0 else {
                throw localError("fsync of \(sub)/ failed; the attempts in doubt stay so")
            }
        }
        // A file found whose POP3 UIDL was not recorded (the run died between the rename and the uidlist) gets it now.
        try keepingUIDLs(
            attempts.compactMap { attempt in
                found[attempt.token].flatMap { ref in attempt.pop3UIDL.map { (String(ref.dropFirst(4)), $0) } }
            }
        ) {}
        return found
    }

    /// Flushes what is staged (best effort: what fails stays in doubt for `reconcile`).
    public func close() {
        _ = try? flush()
    }

    /// The names in tmp/, new/ or cur/ of this Maildir, read through the folder opened at the start.
    private func listFolder(_ sub: String) throws -> [String] {
        let fd = openat(folderFD, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            let error = localError("cannot list \(sub)/")
            if fd >= 0 { Glibc.close(fd) }
            throw error
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    func localError(_ what: String) -> MailError {
        let code = errno
        let kind: FailureKind = (code == ENOSPC || code == EDQUOT) ? .quota : .local
        return MailError(kind, "Maildir \(root): \(what): \(errnoText(code))")
    }
}
