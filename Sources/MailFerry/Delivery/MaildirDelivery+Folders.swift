import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// The Maildir root and the folders below it: created, opened without following links, and synced.
extension MaildirDelivery {
    /// Creates a missing Maildir root with its parents, syncing each parent a folder was created in.
    static func createRoot(_ rootPath: String) throws {
        var info = stat()
        // The folders about to be created, outermost first: each new name is durable once its parent is synced.
        var missing: [String] = []
        var path = rootPath
        while path != "/" && !path.isEmpty && stat(path, &info) != 0 {
            missing.insert(path, at: 0)
            path = (path as NSString).deletingLastPathComponent
        }
        do {
            try FileManager.default.createDirectory(
                atPath: rootPath, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw MailError(.local, "cannot create the Maildir root \(rootPath): \(ErrorText.cause(error))")
        }
        do {
            for created in missing {
                let parent = (created as NSString).deletingLastPathComponent
                try Self.syncFolder(parent.isEmpty ? "." : parent, fault: FaultPoint.environment)
            }
        } catch {
            // Removed again (they are empty), so the next run creates them anew and syncs them then.
            for created in missing.reversed() { rmdir(created) }
            throw error
        }
    }

    /// Opens the folder `name` in `parent`, never through a symbolic link, creating it when missing (and syncing
    /// `parent`, so the new folder survives a crash with what is later delivered into it).
    static func openFolder(
        _ name: String, in parent: Int32, path: String,
        creation: MaildirCreation, fault: FaultPoint?
    ) throws -> Int32 {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = openat(parent, name, flags)
        if fd < 0 && errno == ENOENT {
            if mkdirat(parent, name, creation.folderMode) != 0 && errno != EEXIST {
                throw MailError(.local, "cannot create Maildir folder \(path): \(errnoText())")
            }
            fd = openat(parent, name, flags)
            if fd >= 0 {
                let code = creation.apply(to: fd, folder: true)
                if code != 0 {
                    Glibc.close(fd)
                    throw MailError(
                        .local,
                        "cannot give Maildir folder \(path) its \(creation.describe): "
                            + errnoText(code))
                }
                guard DurableIO.fsync(parent, "maildir-fsync-folder", fault) == 0 else {
                    let code = errno
                    Glibc.close(fd)
                    // Removed again (it is empty), so the next run creates it anew and syncs it then.
                    unlinkat(parent, name, AT_REMOVEDIR)
                    throw MailError(.local, "fsync of the folder holding \(path) failed: \(errnoText(code))")
                }
            }
        }
        if fd < 0 {
            let code = errno
            var info = stat()
            if fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
                if info.st_mode & S_IFMT == S_IFLNK {
                    throw MailError(
                        .local,
                        "Maildir folder \(path) is a symbolic link; refused (mailferry never "
                            + "writes through a link below a target's root)")
                }
                if info.st_mode & S_IFMT != S_IFDIR {
                    throw MailError(.local, "Maildir folder \(path) exists and is not a folder")
                }
            }
            throw MailError(.local, "cannot open Maildir folder \(path): \(errnoText(code))")
        }
        return fd
    }

    /// Syncs the folder at `path` (after a name was created in it).
    static func syncFolder(_ path: String, fault: FaultPoint?) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MailError(.local, "cannot open \(path) to sync it: \(errnoText())") }
        defer { Glibc.close(fd) }
        guard DurableIO.fsync(fd, "maildir-fsync-folder", fault) == 0 else {
            throw MailError(.local, "fsync of \(path) failed: \(errnoText())")
        }
    }
}
