import Foundation
import MailCore
import MailStore
import MailSystem

extension Verifier {
    /// `keepPOP3UIDL`: each person's message found in the Maildir must carry, in Dovecot's `dovecot-uidlist`, the UIDL
    /// the legacy server lists it under now; else their POP3 client fetches it again. Read without the lock (Dovecot
    /// replaces the file whole). `found`: the Maildir's files by base name, as `checkMaildir` listed them.
    func checkUIDLs(_ root: String, _ expected: [Expected], found: [String: [String]], _ outcome: inout Outcome) {
        let own = expected.filter { $0.pop3UIDL != nil && !(found[$0.token] ?? []).isEmpty }
        outcome.mailbox.uidlsKept = outcome.mailbox.uidlsKept ?? 0
        guard !own.isEmpty else { return }
        var records: [String: DovecotUIDList.Record] = [:]
        if let bytes = FileManager.default.contents(atPath: root + "/" + DovecotUIDListFile.name) {
            do {
                for record in try DovecotUIDList.parse([UInt8](bytes)).records { records[record.name] = record }
            } catch {
                outcome.mailbox.error = "target: \(root)/\(DovecotUIDListFile.name) cannot be read: \(error.reason)"
                return
            }
        }
        for item in own {
            let file = found[item.token]![0]
            let name = DovecotUIDList.baseName(String(file.drop { $0 != "/" }.dropFirst()))
            let recorded = records[name]?.value("P")
            if recorded == item.pop3UIDL {
                outcome.mailbox.uidlsKept! += 1
                continue
            }
            outcome.wrongUIDLs.append(
                VerifyReport.Finding(
                    mailbox: outcome.mailbox.key, address: item.address, uidl: item.uidl, size: item.size,
                    detail: "in the Maildir as \(file), but \(DovecotUIDListFile.name) gives it "
                        + (recorded.map { "the POP3 UIDL \(sanitizeForDisplay($0))" } ?? "no POP3 UIDL")
                        + ", not the legacy one: a POP3 client would fetch it again"))
        }
    }
}
