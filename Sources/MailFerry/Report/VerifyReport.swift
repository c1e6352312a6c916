import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The verdict of `mailferry verify`: every message on the legacy servers, compared with the state and with its
/// target. Kept as reports/<plan>/verify.json for the dashboard.
public struct VerifyReport: Sendable, Codable, Equatable {
    public var plan: String
    public var verifiedAt: Date
    public var stateFiles: [String]
    public var mailboxes: [Mailbox]
    /// Messages on a legacy server that are not (or not yet) in their target mailbox.
    public var missing: [Finding]
    /// Messages that are in their target mailbox more than once.
    public var duplicates: [Finding]
    public var exitCode: Int32
    /// SQLite's `integrity_check` of each state file read (nil in a verdict kept by an older mailferry).
    public var stateIntegrity: [StateIntegrity]?
    /// Messages in a `keepPOP3UIDL` Maildir without their legacy POP3 UIDL (nil when no target keeps them).
    public var wrongUIDLs: [Finding]?

    public struct Mailbox: Sendable, Codable, Equatable {
        public var key: String
        public var address: String
        public var target: String
        /// maildir, imap, lmtp or smtp.
        public var targetKind: String
        /// Messages on the legacy server now (nil when it could not be listed).
        public var onServer: Int?
        /// Found in the target.
        public var inTarget = 0
        /// Delivered per state into a target that cannot be read back (LMTP, SMTP).
        public var notVerifiable = 0
        public var missing = 0
        public var duplicates = 0
        /// Why the mailbox could not be verified (login refused, target unreachable...).
        public var error: String?
        /// Messages found with their legacy POP3 UIDL in Dovecot's uidlist (nil unless the target keeps them).
        public var uidlsKept: Int?

        public init(key: String, address: String, target: String, targetKind: String) {
            self.key = key
            self.address = address
            self.target = target
            self.targetKind = targetKind
        }
    }

    /// One message, by identifiers that carry no content: mailbox, UIDL, size, where it should be.
    public struct Finding: Sendable, Codable, Equatable {
        public var mailbox: String
        public var address: String
        public var uidl: String
        public var size: Int?
        public var detail: String
    }

    public var onServer: Int { mailboxes.reduce(0) { $0 + ($1.onServer ?? 0) } }
    public var inTarget: Int { mailboxes.reduce(0) { $0 + $1.inTarget } }
    public var notVerifiable: Int { mailboxes.reduce(0) { $0 + $1.notVerifiable } }
    public var unchecked: [Mailbox] { mailboxes.filter { $0.error != nil } }
    /// State files SQLite's `integrity_check` found damaged.
    public var damagedState: [StateIntegrity] { (stateIntegrity ?? []).filter { !$0.ok } }
    /// Nothing missing, every mailbox checked, and the state sound: exit 0.
    public var complete: Bool {
        missing.isEmpty && unchecked.isEmpty && damagedState.isEmpty && (wrongUIDLs ?? []).isEmpty
    }

    /// The one sentence an admin trusts (in the spirit of imapsync's end-of-run verdict).
    public var verdict: String {
        if !damagedState.isEmpty {
            return "the state database is damaged (SQLite's integrity_check): nothing was verified; restore a backup "
                + "(mailferry backup) or see docs/operations.md"
        }
        let n = onServer
        var text: String
        if missing.isEmpty {
            text =
                n == 1
                ? "the 1 message on the legacy servers is in its target mailbox"
                : "all \(n) messages on the legacy servers are in their target mailboxes"
            if notVerifiable > 0 {
                text +=
                    " (\(notVerifiable) of them delivered per state into LMTP/SMTP targets, which cannot be read "
                    + "back: not verifiable)"
            }
        } else {
            text =
                "\(missing.count) of " + counted(n, "message") + " on the legacy servers "
                + (missing.count == 1 ? "is" : "are") + " missing from their target mailboxes"
        }
        text += "; " + counted(duplicates.count, "duplicate")
        if let wrongUIDLs {
            text += "; " + counted(wrongUIDLs.count, "message") + " without the legacy POP3 UIDL"
        }
        if !unchecked.isEmpty {
            text += "; " + counted(unchecked.count, "mailbox") + " could not be verified"
        }
        return text
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    public static func load(_ path: String) -> VerifyReport? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(VerifyReport.self, from: data)
    }

    /// What `verify` prints: a line per mailbox, every missing message and duplicate, then the verdict.
    public func text() -> String {
        var out = ""
        for m in mailboxes {
            out += "  \(sanitizeForDisplay(m.address)) (\(sanitizeForDisplay(m.key)), \(m.targetKind)): "
            if let error = m.error {
                out += "not verified: \(sanitizeForDisplay(error, limit: 300))\n"
                continue
            }
            out += "\(m.onServer ?? 0) on server, \(m.inTarget) in target"
            if m.notVerifiable > 0 { out += ", \(m.notVerifiable) delivered per state (not verifiable)" }
            if m.missing > 0 { out += ", \(m.missing) missing" }
            if m.duplicates > 0 { out += ", " + counted(m.duplicates, "duplicate") }
            if let kept = m.uidlsKept { out += ", \(kept) with the legacy POP3 UIDL" }
            out += "\n"
        }
        if !missing.isEmpty {
            out += "missing:\n"
            for f in missing { out += "  " + Self.line(f) + "\n" }
        }
        if !duplicates.isEmpty {
            out += "duplicates:\n"
            for f in duplicates { out += "  " + Self.line(f) + "\n" }
        }
        if let wrongUIDLs, !wrongUIDLs.isEmpty {
            out += "without the legacy POP3 UIDL:\n"
            for f in wrongUIDLs { out += "  " + Self.line(f) + "\n" }
        }
        for state in stateIntegrity ?? [] {
            out +=
                "state \(sanitizeForDisplay(DisplayPath.relativeToCurrent(state.path))): \(state.check.rawValue) "
                + (state.ok ? "ok\n" : "found damage:\n")
            for line in state.problems { out += "  \(sanitizeForDisplay(line, limit: 300))\n" }
        }
        out += "verify: \(verdict); exit \(exitCode)\n"
        return out
    }

    static func line(_ f: Finding) -> String {
        "\(sanitizeForDisplay(f.mailbox)) \(sanitizeForDisplay(f.uidl))"
            + (f.size.map { " (\(formatBytes($0)))" } ?? "") + ": \(sanitizeForDisplay(f.detail, limit: 300))"
    }

    package init(
        plan: String, verifiedAt: Date, stateFiles: [String], mailboxes: [Mailbox], missing: [Finding],
        duplicates: [Finding], exitCode: Int32, stateIntegrity: [StateIntegrity]? = nil
    ) {
        self.plan = plan
        self.verifiedAt = verifiedAt
        self.stateFiles = stateFiles
        self.mailboxes = mailboxes
        self.missing = missing
        self.duplicates = duplicates
        self.exitCode = exitCode
        self.stateIntegrity = stateIntegrity
    }
}
