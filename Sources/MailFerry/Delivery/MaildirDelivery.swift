import Foundation
import Glibc

/// Delivers into a Maildir the way Dovecot does: write in tmp/, fsync, rename into new/, fsync the directory
/// (https://cr.yp.to/proto/maildir.html). The file name is the delivery token plus `,S=<size>`, so whether an
/// attempt landed is an exact question of whether that name exists in new/ or cur/.
public final class MaildirDelivery: Delivery {
    public let root: String

    /// Opens (creating tmp/, new/ and cur/ when missing) the Maildir at `root`.
    public init(root: String) throws {
        self.root = root
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
        DeliveryResult(reference: try writeMessage(request))
    }

    private func writeMessage(_ request: DeliveryRequest) throws -> String {
        let name = Self.fileName(token: request.token, size: request.spool.size)
        let tmpPath = "\(root)/tmp/\(name)"
        let newPath = "\(root)/new/\(name)"
        var fd = open(tmpPath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 && errno == EEXIST {
            // A leftover of an attempt that died before its rename (removed only then: one system call less for
            // every other message).
            unlink(tmpPath)
            fd = open(tmpPath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        }
        if fd < 0 { throw localError("cannot create \(tmpPath)") }
        do {
            try request.spool.readChunks { chunk in
                var offset = 0
                while offset < chunk.count {
                    let n = retryingEINTR { write(fd, chunk.baseAddress! + offset, chunk.count - offset) }
                    if n < 0 { throw localError("cannot write \(tmpPath)") }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw localError("fsync of \(tmpPath) failed") }
            var times = [timespec](repeating: timespec(), count: 2)
            let seconds = request.arrival.timeIntervalSince1970
            times[0] = timespec(tv_sec: Int(seconds), tv_nsec: 0)
            times[1] = times[0]
            futimens(fd, &times)
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
            unlink(tmpPath)
            throw error
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

    public func close() {}

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
