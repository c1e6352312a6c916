extension MailError {
    /// What exactly went wrong, typed, for the code that decides what to do next: a server's response code or
    /// reply, or one of mailferry's own markers. The words a person reads are in `message`; nothing here changes
    /// them. The wire clients (MailWire) read these off the wire; this layer only names them.
    public enum Code: Sendable, Hashable {
        /// A POP3 extended response code (RFC 2449 §8, RFC 3206).
        case pop3(POP3ResponseCode)
        /// An IMAP response code (RFC 9051 §7.1, RFC 5530).
        case imap(IMAPResponseCode)
        /// An SMTP or LMTP reply (RFC 5321 §4.2), with its enhanced status code (RFC 3463) when there was one.
        case smtp(SMTPStatus)
        /// The whole message went to the target but its answer could not be read (the connection broke, timed out,
        /// or a stop's grace ran out), or a Maildir rename or sync failed after the fact: it may have been stored.
        /// Such an attempt is neither refused nor retried blindly; it stays in doubt for the next run's
        /// reconciliation.
        case inDoubt
        /// A message turned out larger than the plan's limit while it was read (LIST said less, or a body did not
        /// end): it is set aside and the session cut off.
        case tooLarge
    }
}

/// A POP3 extended response code, the bracketed word after "-ERR" (RFC 2449 §8). Codes mailferry does not act on
/// keep their text in `other`.
public enum POP3ResponseCode: Sendable, Hashable, CustomStringConvertible {
    /// "IN-USE": another session holds the maildrop (RFC 2449 §8.1.1).
    case inUse
    /// "LOGIN-DELAY": logged in too soon after the last time (RFC 2449 §8.1.2).
    case loginDelay
    /// "SYS/TEMP": a temporary problem at the server (RFC 3206 §4).
    case sysTemp
    /// "SYS/PERM": a permanent problem at the server (RFC 3206 §4).
    case sysPerm
    /// "AUTH": the credentials were refused (RFC 3206 §5).
    case auth
    case other(String)

    /// The code for an upper-cased response code word.
    public init(_ word: String) {
        switch word {
        case "IN-USE": self = .inUse
        case "LOGIN-DELAY": self = .loginDelay
        case "SYS/TEMP": self = .sysTemp
        case "SYS/PERM": self = .sysPerm
        case "AUTH": self = .auth
        default: self = .other(word)
        }
    }

    /// The word as the server wrote it (upper-cased): "IN-USE".
    public var description: String {
        switch self {
        case .inUse: "IN-USE"
        case .loginDelay: "LOGIN-DELAY"
        case .sysTemp: "SYS/TEMP"
        case .sysPerm: "SYS/PERM"
        case .auth: "AUTH"
        case .other(let word): word
        }
    }
}

/// An IMAP response code, the bracketed atom of a status response (RFC 9051 §7.1; RFC 5530 for the error codes):
/// the ones the client acts on, and `other` for the rest.
public enum IMAPResponseCode: Sendable, Hashable, CustomStringConvertible {
    /// The mailbox cannot take the message: over quota (RFC 9051 §7.1).
    case overQuota
    /// The mailbox does not exist but could be created (RFC 9051 §7.1).
    case tryCreate
    /// CREATE of a mailbox that is there already (RFC 9051 §7.1).
    case alreadyExists
    case nonExistent
    case authenticationFailed
    case authorizationFailed
    case expired
    case noPerm
    case privacyRequired
    case unavailable
    case inUse
    case serverBug
    case contactAdmin
    case limit
    case cannot
    /// The message is larger than the server takes (RFC 4469 §5, APPENDLIMIT RFC 7889).
    case tooBig
    /// The capabilities, in the greeting or after login (RFC 9051 §7.1).
    case capability
    /// The UIDVALIDITY and UID an APPEND got (UIDPLUS, RFC 4315 §3).
    case appendUID
    /// A mailbox's UIDVALIDITY, after SELECT or EXAMINE (RFC 9051 §7.1).
    case uidValidity
    case other(String)

    private static let words: [(IMAPResponseCode, String)] = [
        (.overQuota, "OVERQUOTA"), (.tryCreate, "TRYCREATE"), (.alreadyExists, "ALREADYEXISTS"),
        (.nonExistent, "NONEXISTENT"), (.authenticationFailed, "AUTHENTICATIONFAILED"),
        (.authorizationFailed, "AUTHORIZATIONFAILED"), (.expired, "EXPIRED"), (.noPerm, "NOPERM"),
        (.privacyRequired, "PRIVACYREQUIRED"), (.unavailable, "UNAVAILABLE"), (.inUse, "INUSE"),
        (.serverBug, "SERVERBUG"), (.contactAdmin, "CONTACTADMIN"), (.limit, "LIMIT"), (.cannot, "CANNOT"),
        (.tooBig, "TOOBIG"), (.capability, "CAPABILITY"), (.appendUID, "APPENDUID"), (.uidValidity, "UIDVALIDITY"),
    ]
    private static let byWord = Dictionary(uniqueKeysWithValues: words.map { ($0.1, $0.0) })
    private static let wordOf = Dictionary(uniqueKeysWithValues: words.map { ($0.0, $0.1) })

    /// The code for an upper-cased response code atom.
    public init(_ atom: String) {
        self = Self.byWord[atom] ?? .other(atom)
    }

    /// The atom as the server wrote it (upper-cased): "OVERQUOTA".
    public var description: String {
        if case .other(let atom) = self { return atom }
        return Self.wordOf[self]!
    }
}

/// An SMTP or LMTP reply's codes: the three-digit reply code (RFC 5321 §4.2) and the enhanced status code
/// (RFC 3463) when the server sent one (RFC 2034).
public struct SMTPStatus: Sendable, Hashable, CustomStringConvertible {
    public var reply: Int
    public var enhanced: EnhancedStatusCode?

    public init(reply: Int, enhanced: EnhancedStatusCode? = nil) {
        self.reply = reply
        self.enhanced = enhanced
    }

    /// "552 5.3.4", or "451" without an enhanced code.
    public var description: String { "\(reply)" + (enhanced.map { " \($0)" } ?? "") }
}

/// "class.subject.detail" (RFC 3463 §2): 5.2.2 is "mailbox full", permanently.
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    public var `class`: Int
    /// What the detail is about: 1 addressing, 2 mailbox, 3 mail system, 7 security or policy, …
    public var subject: Int
    public var detail: Int

    public init(_ `class`: Int, _ subject: Int, _ detail: Int) {
        self.class = `class`
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(`class`).\(subject).\(detail)" }
}
