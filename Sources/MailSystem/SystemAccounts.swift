import Glibc
import MailCore

/// Users and groups of this machine (passwd and group through NSS), for Maildir ownership. The reentrant calls, as
/// checks of several mailboxes run at once.

/// The uid of a user known to this machine (passwd, through NSS), or nil.
package func systemUserID(_ name: String) -> uid_t? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 16_384)
    guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.pw_uid
}

/// The gid of a group known to this machine, or nil.
package func systemGroupID(_ name: String) -> gid_t? {
    var entry = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 65_536)
    guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.gr_gid
}

/// The name of a uid (its number when it has none).
package func systemUserName(_ uid: uid_t) -> String {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 16_384)
    guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return String(uid) }
    return String(cString: entry.pw_name)
}

/// The name of a gid (its number when it has none).
package func systemGroupName(_ gid: gid_t) -> String {
    var entry = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 65_536)
    guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return String(gid) }
    return String(cString: entry.gr_name)
}
