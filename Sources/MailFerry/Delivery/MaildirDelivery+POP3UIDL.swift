import Foundation
import Glibc
import MailCore
import MailSystem

/// `keepPOP3UIDL`: the POP3 UIDL each message had on the legacy server, and its place in the legacy order, recorded
/// where Dovecot's POP3 server reads them, the `P` and `O` fields of the message's record in `dovecot-uidlist`
/// (design.md, "POP3 UIDLs kept"). The message bytes are not touched.
extension MaildirDelivery {
    /// Runs `move` (renames into new/ and the sync of new/) holding Dovecot's uidlist lock when any of `marks` (file
    /// name, UIDL) is to be recorded, then records them and releases the lock. The lock is taken before the first
    /// rename, so no Dovecot process can number a file before its record carries the UIDL.
    ///
    /// A uidlist that cannot be locked or read stops before anything is renamed (the files stay in tmp/, the
    /// attempts are settled by `reconcile`). One that cannot be written after the renames leaves the messages in
    /// doubt: `reconcile` finds them and records their UIDLs then.
    func keepingUIDLs<T>(_ marks: [(name: String, uidl: String)], _ move: () throws -> T) throws -> T {
        guard keepPOP3UIDL, !marks.isEmpty else { return try move() }
        let file = try DovecotUIDListFile(folderFD: folderFD, root: root, creation: creation, fault: fault)
        defer { file.release() }
        let existing = try file.read()
        var list = existing ?? file.fresh()
        let result = try move()
        // A test kills the run here: the files are in new/, the uidlist without them, the lock left behind.
        CrashPoint.hit("uidlist-before-write")
        do {
            if list.keep(marks) {
                // Only new records (the usual batch): appended, as Dovecot appends, instead of the whole list
                // rewritten for every batch. A record that changed needs the whole list (Dovecot reads appended
                // lines only for UIDs it has not seen).
                if let existing, list.records.starts(with: existing.records) {
                    let lines = DovecotUIDList.render(list.records[existing.records.count...])
                    if try !file.append(lines) { try file.replace(with: list) }
                } else {
                    try file.replace(with: list)
                }
            }
        } catch let error as MailError {
            throw MailError(
                error.kind,
                error.message + "; " + counted(marks.count, "message") + " in new/ without "
                    + "\(marks.count == 1 ? "its" : "their") POP3 UIDL \(marks.count == 1 ? "stays" : "stay") in doubt "
                    + "until the next run records it",
                code: .inDoubt)
        }
        return result
    }

}
