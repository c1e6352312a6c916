import Foundation
import Glibc

/// Delivers into a Maildir the way Dovecot does: write in tmp/, fsync, rename into new/, fsync the directory
/// (https://cr.yp.to/proto/maildir.html). The file name is the delivery token plus `,S=<size>`, so whether an
/// attempt landed is an exact question of whether that name exists in new/ or cur/.
///
/// Staged (`stagingLimit` > 1, as in a run): each message is written into tmp/, and the fsyncs, renames and the one
/// directory fsync happen for a whole batch in `flush`. The file system then commits its
/// journal about twice per batch instead of twice per message. A message is reported delivered only after the flush
/// (the runner commits its "delivered" checkpoint then); a crash before leaves it in tmp/, where `reconcile` finds
/// it absent and removes it, so it is delivered again, once.
public final class MaildirDelivery: Delivery {
    public let root: String
    /// Messages (and bytes) a batch may hold before `flushDue`; 1 makes every delivery durable before it returns.
    public let stagingLimit: Int
    /// The batch a run stages.
    public static let runBatch = 32
    static let stagingBytes = 32 << 20
    /// A batch is flushed at the latest this long after its first message, so mail does not wait unseen in tmp/
    /// behind a slow server.
    static let stagingSeconds = 1.0
    /// Written into tmp/, not yet synced and renamed: their tokens and file names.
    private var stagedNames: [(token: String, name: String)] = []
    private var stagedBytes = 0
    private var stagedSince = 0.0

    /// Opens (creating tmp/, new/ and cur/ when missing) the Maildir at `root`.
    public init(root: String, stagingLimit: Int = 1) throws {
        self.root = root
        self.stagingLimit = max(1, stagingLimit)
        for sub in ["", "/tmp", "/new", "/cur"] {
            let path = root + sub
            var info = stat()
            if stat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw MailError(.local, "Maildir \(root): \(path) exists and is not a folder")
                }
                continue
            }
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw MailError(.local, "cannot create Maildir folder \(path): \(error.localizedDescription)")
            }
        }
    }

    static func fileName(token: String, size: Int) -> String { "\(token),S=\(size)" }

    /// Maildir's answer to an in-doubt attempt is exact: the file name derives from the token.
    public var inDoubtPolicy: InDoubtPolicy { .exact }

    /// Stores the message for the one mailbox this Maildir is; envelope recipients and flags are not used.
    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        let staging = stagingLimit > 1 && request.mayStage
        return DeliveryResult(reference: try writeMessage(request, staging: staging), staged: staging)
    }

    public var staged: Int { stagedNames.count }

    /// A staged message is only in tmp/ until the flush renames it.
    public var stagesUnseen: Bool { stagingLimit > 1 }

    public func discardStaged() {
        for (_, name) in stagedNames { unlink("\(root)/tmp/\(name)") }
        stagedNames = []
        stagedBytes = 0
    }

    public var flushDue: Bool {
        !stagedNames.isEmpty && (stagedNames.count >= stagingLimit || stagedBytes >= Self.stagingBytes
            || monotonicSeconds() - stagedSince >= Self.stagingSeconds)
    }

    /// Syncs every staged file, renames it into new/, and syncs new/ once. Every staged delivery lands, or none is
    /// known to (a throw).
    public func flush() throws -> [String: Result<String, MailError>] {
        guard !stagedNames.isEmpty else { return [:] }
        let batch = stagedNames
        let names = batch.map(\.name)
        stagedNames = []
        stagedBytes = 0
        do {
            for name in names {
                let tmpPath = "\(root)/tmp/\(name)"
                let fd = open(tmpPath, O_RDONLY | O_CLOEXEC)
                if fd < 0 { throw localError("cannot open \(tmpPath)") }
                defer { Glibc.close(fd) }
                guard fsync(fd) == 0 else { throw localError("fsync of \(tmpPath) failed") }
            }
            for name in names {
                CrashPoint.hit("maildir-before-rename")
                guard rename("\(root)/tmp/\(name)", "\(root)/new/\(name)") == 0 else {
                    throw localError("cannot move \(root)/tmp/\(name) into new/")
                }
            }
        } catch {
            // Whatever was not renamed stays in tmp/ for `reconcile` to remove; the renamed ones are found there.
            try? syncDirectory("\(root)/new")
            throw error
        }
        try syncDirectory("\(root)/new")
        return Dictionary(batch.map { ($0.token, .success("new/\($0.name)")) }, uniquingKeysWith: { $1 })
    }

    private func writeMessage(_ request: DeliveryRequest, staging: Bool) throws -> String {
        let name = Self.fileName(token: request.token, size: request.spool.size)
        let tmpPath = "\(root)/tmp/\(name)"
        let newPath = "\(root)/new/\(name)"
        // A message spooled to disk is moved into tmp/ whole when the spool is on the same file system (replacing
        // any leftover of an attempt that died before its rename): no second copy of its bytes.
        let handedOver = request.spool.handOver(to: tmpPath)
        let create = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC
        var fd = handedOver ? open(tmpPath, O_WRONLY | O_CLOEXEC) : open(tmpPath, create, 0o600)
        if fd < 0 && errno == EEXIST {
            // A leftover of an attempt that died before its rename (removed only then: one system call less for
            // every other message).
            unlink(tmpPath)
            fd = open(tmpPath, create, 0o600)
        }
        if fd < 0 {
            let error = localError("cannot \(handedOver ? "open" : "create") \(tmpPath)")
            if handedOver { unlink(tmpPath) }
            throw error
        }
        do {
            if !handedOver {
                try request.spool.readChunks { chunk in
                    var offset = 0
                    while offset < chunk.count {
                        let n = retryingEINTR { write(fd, chunk.baseAddress! + offset, chunk.count - offset) }
                        if n < 0 { throw localError("cannot write \(tmpPath)") }
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
                guard fsync(fd) == 0 else { throw localError("fsync of \(tmpPath) failed") }
            }
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
            unlink(tmpPath)
            throw error
        }
        if staging {
            if stagedNames.isEmpty { stagedSince = monotonicSeconds() }
            stagedNames.append((request.token, name))
            stagedBytes += request.spool.size
            return "new/\(name)"
        }
        CrashPoint.hit("maildir-before-rename")
        guard rename(tmpPath, newPath) == 0 else {
            let error = localError("cannot move \(tmpPath) into new/")
            unlink(tmpPath)
            throw error
        }
        try syncDirectory("\(root)/new")
        return "new/\(name)"
    }

    public func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String] {
        guard !attempts.isEmpty else { return [:] }
        let wanted = Set(attempts.map(\.token))
        var found: [String: String] = [:]
        for sub in ["new", "cur"] {
            for name in try listDirectory("\(root)/\(sub)") {
                // Base name: up to the first ',' (size fields) or ':' (flags added by readers in cur/).
                let base = String(name.prefix { $0 != "," && $0 != ":" })
                if wanted.contains(base) { found[base] = "\(sub)/\(name)" }
            }
        }
        for name in try listDirectory("\(root)/tmp") {
            let base = String(name.prefix { $0 != "," && $0 != ":" })
            if wanted.contains(base) { unlink("\(root)/tmp/\(name)") }
        }
        return found
    }

    /// Flushes what is staged (best effort: what fails stays in doubt for `reconcile`).
    public func close() {
        _ = try? flush()
    }

    private func listDirectory(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw MailError(.local, "cannot list \(path): \(error.localizedDescription)")
        }
    }

    /// A rename is durable only once its directory is synced.
    private func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw localError("cannot open \(path)") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw localError("fsync of \(path) failed") }
    }

    private func localError(_ what: String) -> MailError {
        let code = errno
        let kind: FailureKind = (code == ENOSPC || code == EDQUOT) ? .quota : .local
        return MailError(kind, "Maildir \(root): \(what): \(errnoText(code))")
    }
}
