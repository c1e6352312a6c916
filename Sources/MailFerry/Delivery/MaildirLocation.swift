import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Where one mailbox's Maildir lies: under a root the plan's author wrote, by folder names filled in from values
/// that may come from strangers (a catch-all's recovered recipients) or from long CSV lists. Each filled-in value
/// must be one safe path component (`PathComponent`), so the Maildir always lies under the root (SECURITY.md,
/// "Containment").
public struct MaildirLocation: Sendable, Equatable {
    /// The target's root: the plan's `path` up to the folder that holds its first placeholder (the Maildir's parent
    /// folder when the path has none). Trusted; created with its parents when missing.
    public var root: String
    /// The folders from `root` down to the Maildir, one path component each (never "", "." or ".."); created one by
    /// one without following symbolic links.
    public var below: [String]

    public var path: String { ([root] + below).joined(separator: "/") }

    public init(root: String, below: [String]) {
        self.root = root
        self.below = below
    }

    /// A Maildir named by its whole path (no placeholders): its parent folder is the root.
    public init(path: String) throws(MailError) {
        self = try Self.resolve(path, values: [:])
    }

    /// Fills `{name}` placeholders in a Maildir path template with `values`. Each value must be a safe path
    /// component and each filled-in folder name at most 255 bytes; otherwise the error names the placeholder, the
    /// value (made safe to show) and why.
    public static func resolve(_ template: String, values: [String: String]) throws(MailError) -> MaildirLocation {
        let absolute = template.hasPrefix("/")
        var parts = template.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        parts.removeAll { $0 == "." }
        if let dotDot = parts.first(where: { $0 == ".." }) {
            throw MailError(
                .permanent,
                "Maildir path \(sanitizeForDisplay(template, limit: 200)) has a '\(dotDot)' "
                    + "folder; write the path without it")
        }
        guard !parts.isEmpty else {
            throw MailError(.permanent, "Maildir path \(sanitizeForDisplay(template, limit: 200)) names no folder")
        }
        let split = parts.firstIndex { $0.contains("{") } ?? parts.count - 1
        let rootParts = parts[..<split].joined(separator: "/")
        let root = absolute ? "/" + rootParts : (rootParts.isEmpty ? "." : rootParts)
        var below: [String] = []
        for part in parts[split...] {
            var name = part
            for (placeholder, value) in values where name.contains("{\(placeholder)}") {
                if let problem = PathComponent.problem(value) {
                    throw MailError(
                        .permanent,
                        "Maildir path \(sanitizeForDisplay(template, limit: 200)): "
                            + "{\(placeholder)} = \"\(sanitizeForDisplay(value, limit: 80))\" cannot be a folder name: "
                            + problem)
                }
                name = name.replacingOccurrences(of: "{\(placeholder)}", with: value)
            }
            if name == "." || name == ".." || name.utf8.count > PathComponent.maxNameBytes {
                throw MailError(
                    .permanent,
                    "Maildir path \(sanitizeForDisplay(template, limit: 200)): the folder "
                        + "name \"\(sanitizeForDisplay(name, limit: 80))\" cannot be used")
            }
            below.append(name)
        }
        return MaildirLocation(root: root == "/" ? "" : root, below: below)
    }
}

/// Who owns what a Maildir target creates, and with which modes (SECURITY.md, "Ownership").
///
/// A Maildir is read by the mail server that serves it, which runs as the mailbox's owner (Dovecot's `vmail`, or
/// the person's own uid), not as whoever ran mailferry. So files and folders created under the root take the
/// plan's `owner`/`group` when given, else (when mailferry runs as root) the owner and group of the root folder
/// itself, as Dovecot's own delivery would. Modes are 0700 for folders and 0600 for files; a root that is
/// group-writable (a shared setup like 0770 or 2770) passes its group bits on (0770, 0660). Others never get any
/// permission.
public struct MaildirOwnership: Sendable, Equatable {
    public var owner: uid_t?
    public var group: gid_t?

    public init(owner: uid_t? = nil, group: gid_t? = nil) {
        self.owner = owner
        self.group = group
    }
}

/// What a Maildir delivery does to each folder and file it creates, worked out once from the root.
struct MaildirCreation: Equatable {
    /// nil: left as created (the process's own ids).
    var uid: uid_t?
    var gid: gid_t?
    var folderMode: mode_t
    var fileMode: mode_t

    init(root info: stat, ownership: MaildirOwnership, euid: uid_t = geteuid(), egid: gid_t = getegid()) {
        let wantedUID = ownership.owner ?? (euid == 0 ? info.st_uid : nil)
        let wantedGID = ownership.group ?? (euid == 0 ? info.st_gid : nil)
        uid = wantedUID == euid ? nil : wantedUID
        gid = wantedGID == egid ? nil : wantedGID
        let shared = info.st_mode & 0o020 != 0 ? info.st_mode & 0o070 : 0
        folderMode = 0o700 | shared
        fileMode = 0o600 | (shared & 0o060)
    }

    /// Gives a newly created folder or file (open as `fd`) its owner, group and mode.
    func apply(to fd: Int32, folder: Bool) -> Int32 {
        if uid != nil || gid != nil, fchown(fd, uid ?? uid_t.max, gid ?? gid_t.max) != 0 { return errno }
        let mode = folder ? folderMode : fileMode
        if mode != (folder ? 0o700 : 0o600), fchmod(fd, mode) != 0 { return errno }
        return 0
    }

    /// "owner 1001, group 1001": for messages.
    var describe: String {
        [uid.map { "owner \($0)" }, gid.map { "group \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }
}
