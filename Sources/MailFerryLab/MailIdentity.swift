import Foundation
import Glibc

/// The Unix identity that owns the lab's mail and runs Dovecot's mail processes.
///
/// Dovecot refuses to run mail processes as root, so a root lab hands mail to `nobody:nogroup`. Without root there is
/// no choice: everything (mail, login, auth) runs as the current user, and the config must say so.
struct MailIdentity: Sendable, Codable, Equatable {
    let uid: UInt32
    let gid: UInt32
    /// The user Dovecot's internal and login services run as when not root; unused as root.
    let userName: String
    let groupName: String
    let runsAsRoot: Bool

    static func current() throws -> MailIdentity {
        if geteuid() == 0 {
            guard let nobody = getpwnam("nobody") else {
                throw LabError("running as root needs a 'nobody' user for the mail processes; none found")
            }
            let uid = nobody.pointee.pw_uid
            // Debian calls the group nogroup; Fedora and others call it nobody.
            let group = getgrnam("nogroup") ?? getgrnam("nobody")
            let gid = group?.pointee.gr_gid ?? nobody.pointee.pw_gid
            return MailIdentity(uid: uid, gid: gid, userName: "nobody", groupName: groupName(gid), runsAsRoot: true)
        }
        let uid = geteuid()
        let gid = getegid()
        guard let entry = getpwuid(uid) else {
            throw LabError("uid \(uid) has no passwd entry; Dovecot needs a user name to run its services as")
        }
        let name = String(cString: entry.pointee.pw_name)
        return MailIdentity(uid: uid, gid: gid, userName: name, groupName: groupName(gid), runsAsRoot: false)
    }

    private static func groupName(_ gid: gid_t) -> String {
        guard let group = getgrgid(gid) else { return String(gid) }
        return String(cString: group.pointee.gr_name)
    }

    /// Gives `url` to the mail identity. Decided by who we are now, not by how the lab was started: root seeding a
    /// lab that runs as another user must still hand the files over. Without root there is nothing to hand over.
    var canChown: Bool {
        geteuid() == 0
    }

    func own(_ url: URL) throws {
        guard canChown else { return }
        guard chown(url.path, uid, gid) == 0 else { throw LabError.posix("chown(\(url.path))") }
    }

    /// Fails early with a clear message when the mail uid could not reach `root`.
    ///
    /// As root, mail processes run as `nobody`, which needs search permission on every ancestor of the lab root.
    /// A lab under /root (mode 0700) would start fine and then fail every login with a permission error deep in the
    /// log; better to refuse and say which directory is in the way. The lab never loosens modes it did not create.
    func checkTraversable(_ root: URL) throws {
        guard runsAsRoot else { return }
        var directory = root.deletingLastPathComponent()
        while true {
            var info = stat()
            guard stat(directory.path, &info) == 0 else { throw LabError.posix("stat(\(directory.path))") }
            let mode = info.st_mode
            let reachable =
                mode & S_IXOTH != 0
                || (info.st_uid == uid && mode & S_IXUSR != 0)
                || (info.st_gid == gid && mode & S_IXGRP != 0)
            guard reachable else {
                let octal = String(mode & 0o7777, radix: 8)
                throw LabError(
                    "the mail user \(userName) (uid \(uid)) cannot reach \(root.path): \(directory.path) has mode "
                        + "\(octal); choose a root under /tmp or make that directory searchable")
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path {
                return
            }
            directory = parent
        }
    }
}
