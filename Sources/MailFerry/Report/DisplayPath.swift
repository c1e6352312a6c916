import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Paths as people read them in output and reports.
public enum DisplayPath {
    /// `path` relative to the current folder when it lies inside it ("state/acme.db"), else as given.
    public static func relativeToCurrent(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        return path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }
}
