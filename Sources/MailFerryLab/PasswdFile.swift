import Foundation
import Glibc

/// Dovecot's passwd-file format, `user:{PLAIN}password:uid:gid:gecos:home:shell:extra`, one file per user.
///
/// Why one file per user: Dovecot `stat`s a passwd-file at most once per second (db-passwd-file.c,
/// `passwd_file_sync`: `if (pw->last_sync_time == ioloop_time)` serves the cached copy). A user appended to a shared
/// file in the same second as any other login stays unknown until the next second. With `args = DIR/%u` a new user
/// is a new path, which Dovecot opens on first use, and a lookup of a missing file is not cached. It also means
/// adding a user never rewrites a file another process may be rewriting.
enum PasswdFile {
    /// Names Dovecot will find again: `auth_username_format = %Ln` lowercases what clients send, so an upper-case
    /// name could never log in; ':' and newlines would break the format, '/' the per-user path.
    static func validate(user: String, password: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
        guard !user.isEmpty, user.allSatisfy({ allowed.contains($0) }), !user.hasPrefix(".") else {
            throw LabError(
                "user name \"\(user)\" must be lower-case letters, digits, '.', '_' or '-', not starting "
                    + "with '.'")
        }
        guard !password.isEmpty, !password.contains(where: { $0 == ":" || $0.isNewline }) else {
            throw LabError("the password of \(user) must be non-empty and contain no ':' or line break")
        }
    }

    static func line(user: String, password: String, identity: MailIdentity, home: URL) -> String {
        "\(user):{PLAIN}\(password):\(identity.uid):\(identity.gid)::\(home.path)::\n"
    }

    /// The users that have a passwd-file, sorted.
    static func users(in layout: LabLayout) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.users.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Creates the user's passwd-file, failing if it exists. Written beside the lab root and hard-linked into place,
    /// so Dovecot never reads half a line and two processes adding the same user cannot both succeed.
    static func create(user: String, contents: String, in layout: LabLayout) throws {
        let temporary = layout.root.appendingPathComponent(".passwd-\(user)-\(getpid()).tmp")
        try write(contents, to: temporary)
        defer { unlink(temporary.path) }
        let target = layout.passwdFile(of: user)
        guard link(temporary.path, target.path) == 0 else {
            if errno == EEXIST {
                throw LabError("user \(user) already exists")
            }
            throw LabError.posix("link(\(target.path))")
        }
    }

    /// Replaces the user's passwd-file at once (a new file renamed over the old one, so Dovecot never reads half a
    /// line).
    static func replace(user: String, contents: String, in layout: LabLayout) throws {
        let temporary = layout.root.appendingPathComponent(".passwd-\(user)-\(getpid()).tmp")
        try write(contents, to: temporary)
        guard rename(temporary.path, layout.passwdFile(of: user).path) == 0 else {
            unlink(temporary.path)
            throw LabError.posix("rename(\(layout.passwdFile(of: user).path))")
        }
    }

    /// Writes `contents` readable by Dovecot's auth process (it runs as user `dovecot` when the lab runs as root).
    static func write(_ contents: String, to file: URL) throws {
        try Data(contents.utf8).write(to: file)
        guard chmod(file.path, 0o644) == 0 else { throw LabError.posix("chmod(\(file.path))") }
    }
}
