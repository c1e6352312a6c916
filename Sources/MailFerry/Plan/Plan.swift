import Foundation

/// A validated acquisition-transition plan: what to move from where to where. Built by `PlanLoader`.
public struct Plan: Sendable {
    /// The plan's name; names the default state file and report folder.
    public var name: String
    /// The plan file as given on the command line.
    public var file: String
    /// Relative paths in the plan are resolved against this folder (see `PlanLoader.workspace(for:)`).
    public var workspace: String
    public var transition: Transition
    public var statePath: String
    public var reportsPath: String
    /// Mailboxes migrated at the same time.
    public var parallel: Int
    public var sources: [String: Source]
    public var targets: [String: Target]
    public var mailboxes: [Mailbox]

    public struct Transition: Sendable, Equatable {
        public var start: String?
        public var cutover: String?
        public var end: String?
    }

    /// A legacy POP3 server.
    public struct Source: Sendable, Equatable {
        public var name: String
        public var endpoint: POP3Endpoint
        /// Never more than this many sessions to this server at once, whatever `parallel` says.
        public var maxConnections: Int
        /// Login methods the plan allows, in the order tried (the client still picks only what the server offers).
        public var auth: [POP3AuthMethod]
        /// What to do with a server that has no UIDL.
        public var withoutUIDL: WithoutUIDL
        /// Permits a server announcing EXPIRE 0 (retrieval deletes). Off: such a server is refused.
        public var allowExpireZero: Bool
    }

    /// A named option, not a silent fallback (STYLE.md habit 6): identity without UIDL is weaker, so it is opt-in.
    public enum WithoutUIDL: String, Sendable, Equatable, CaseIterable {
        /// Refuse the mailbox with an explanation (the default).
        case refuse
        /// Identify messages by the SHA-256 of their header block (TOP n 0); reported as such.
        case headerFingerprint = "header-fingerprint"
    }

    public enum TargetKind: Sendable, Equatable {
        /// A Maildir per mailbox; `path` may contain {mailbox}, {user}, {local}, {domain}.
        case maildir(path: String)
    }

    public struct Target: Sendable, Equatable {
        public var name: String
        public var kind: TargetKind
    }

    /// One legacy maildrop and where its mail goes.
    public struct Mailbox: Sendable, Equatable {
        public var source: String
        public var user: String
        public var password: SecretRef?
        /// An OAuth 2.0 access token (XOAUTH2/OAUTHBEARER) instead of a password.
        public var token: SecretRef?
        public var target: String
        /// The person's address at the target ("chris@contoso.example"); the user name when not given.
        public var address: String
        /// Identity in the state database across runs.
        public var key: String { "\(source)/\(user)" }
    }
}

extension Plan.TargetKind {
    public var kindName: String {
        switch self {
        case .maildir: "maildir"
        }
    }
}

/// Fills `{mailbox}`, `{user}`, `{local}` and `{domain}` in a target path template.
func expandTemplate(_ template: String, mailbox: Plan.Mailbox) -> String {
    let parts = mailbox.address.split(separator: "@", maxSplits: 1).map(String.init)
    return template
        .replacingOccurrences(of: "{mailbox}", with: mailbox.address)
        .replacingOccurrences(of: "{user}", with: mailbox.user)
        .replacingOccurrences(of: "{local}", with: parts.first ?? mailbox.address)
        .replacingOccurrences(of: "{domain}", with: parts.count > 1 ? parts[1] : "")
}
