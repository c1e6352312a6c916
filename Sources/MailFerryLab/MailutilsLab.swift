import Foundation
import Glibc

/// A private GNU Mailutils `pop3d` on 127.0.0.1: a second real POP3 server beside `DovecotLab`, for interop tests of
/// the POP3 client against a server with other habits (mbox storage, APOP, different UIDLs and sizes).
///
/// Everything lives under one root: config, certificates (`LabCertificates`, same CA scheme as Dovecot's lab),
/// users, APOP database, mbox files and log. Nothing of the host is used or changed: pop3d runs with
/// `--config-file` (no /etc/mailutils.conf), users come from the `virtdomain` module's passwd-dir in the root (no
/// PAM, no /etc/passwd), TCP wrappers are off and lock files stay in the root. Needs root: pop3d switches to group
/// "mail" at startup in daemon mode and exits when it cannot (see `checkMailGroup`).
///
/// Logins are `user@domain` (`login(of:)`): the virtdomain module finds users only by that form. Mailboxes are mbox
/// files in the root, seeded through `seed(user:messages:)`; see `notes` for what pop3d changes in them.
///
/// pop3d runs in the foreground as our child, in a process group of its own; `stop()` ends the group (SIGTERM, then
/// SIGKILL) and returns when no process of it is left, within a few seconds at most. A lab also stops when the object
/// goes away.
public final class MailutilsLab: Sendable {
    /// The domain part of every login.
    public static let domain = "mailferry.test"

    public let root: URL
    /// POP3 without TLS; offers STLS (with `requireTLS`, only STLS: USER and PASS are refused before it).
    public let port: Int
    /// POP3 over implicit TLS. Always present for Mailutils; optional so that labs of servers without it share the
    /// shape.
    public let tlsPort: Int?
    /// PEM of the self-signed CA that signed the server certificate (CN "mailferry lab CA", SAN 127.0.0.1).
    public let caFile: URL
    public let logFile: URL
    /// Whether APOP works: every user's password is in the APOP database. pop3d puts an APOP timestamp in its
    /// greeting either way.
    public let apop: Bool
    /// `pop3d --version`'s first line, e.g. "pop3d (GNU Mailutils) 3.15".
    public let serverVersion: String

    let layout: MailutilsLayout
    let identity: MailIdentity
    let daemon: LabDaemon
    private let stopped = Locked(false)
    /// Serializes changes to the passwd file and the APOP database.
    private let userLock = Locked(())

    private init(
        layout: MailutilsLayout, port: Int, tlsPort: Int, apop: Bool, version: String,
        identity: MailIdentity, daemon: LabDaemon
    ) {
        self.layout = layout
        self.root = layout.root
        self.port = port
        self.tlsPort = tlsPort
        self.caFile = layout.certificates.caFile
        self.logFile = layout.logFile
        self.apop = apop
        self.serverVersion = version
        self.identity = identity
        self.daemon = daemon
    }

    deinit {
        stop()
    }

    /// Starts a fresh pop3d in a new temporary directory, or in `root` (created if missing; must be empty).
    ///
    /// - Parameters:
    ///   - users: user name → password. Names: lower-case letters, digits, '.', '_', '-'. Log in as
    ///     `login(of: name)`.
    ///   - apop: put every password into pop3d's APOP database too, so that APOP (RFC 1939 §7) works.
    ///   - requireTLS: refuse USER/PASS and APOP on the plain port until STLS.
    ///   - transcript: log every session line to `logFile` (passwords included).
    /// - Throws: `LabError` with pop3d's output; whatever was started is stopped again.
    public static func start(
        users: [String: String], apop: Bool = true, requireTLS: Bool = false,
        transcript: Bool = false, root: URL? = nil
    ) throws -> MailutilsLab {
        for (user, password) in users {
            try validate(user: user, password: password)
        }
        guard let pop3d = Subprocess.locate("pop3d") else {
            throw LabError("GNU Mailutils pop3d was not found on PATH or in /usr/sbin; install mailutils-pop3d")
        }
        try checkMailGroup()
        let identity = try MailIdentity.current()
        let layout = MailutilsLayout(root: try prepareRoot(root))
        let version = try serverVersion(pop3d, layout: layout)

        try LabCertificates.generate(in: layout.certificates)
        for directory in [layout.passwdDir, layout.homes] {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        // popauth refuses a database in a group- or world-writable directory; lock files need a writable one.
        try FileManager.default.createDirectory(
            at: layout.apopDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(
            at: layout.lockDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o1777])
        guard chmod(layout.lockDir.path, 0o1777) == 0 else { throw LabError.posix("chmod(\(layout.lockDir.path))") }
        try Data().write(to: layout.passwdFile(domain: domain))
        try addUsers(users, layout: layout, identity: identity, apop: apop)

        let attempts = 3
        for attempt in 1...attempts {
            let free = try LoopbackSocket.freePorts(count: 2)
            let configuration = MailutilsConfiguration(
                layout: layout, port: free[0], tlsPort: free[1], apop: apop, requireTLS: requireTLS,
                transcript: transcript)
            try Data(configuration.render().utf8).write(to: layout.config)
            unlink(layout.logFile.path)
            let daemon = try LabDaemon.spawn(pop3d, ["--config-file=\(layout.config.path)"], outputFile: layout.logFile)
            let lab = MailutilsLab(
                layout: layout, port: free[0], tlsPort: free[1], apop: apop, version: version, identity: identity,
                daemon: daemon)
            do {
                try lab.waitUntilReady(timeout: LabStartup.readinessTimeout)
                return lab
            } catch {
                lab.stop()
                let busy = lab.logTail().contains("Address already in use")
                if busy && attempt < attempts {
                    continue
                }
                throw error
            }
        }
        throw LabError("no free ports after \(attempts) attempts")
    }

    /// The login name of `user`: "user@mailferry.test".
    public func login(of user: String) -> String {
        "\(user)@\(Self.domain)"
    }

    /// The lab's users, sorted.
    public var users: [String] {
        Self.passwdEntries(layout).map(\.user).sorted()
    }

    /// Adds a user with an empty mbox; pop3d reads the passwd file at every login, so no restart is needed.
    public func addUser(_ name: String, password: String) throws {
        try Self.validate(user: name, password: password)
        try userLock.withLock { _ in
            guard !users.contains(name) else { throw LabError("user \(name) already exists") }
            try Self.addUsers([name: password], layout: layout, identity: identity, apop: apop)
        }
    }

    /// The user's mbox file (`<home>/INBOX`).
    public func mbox(of user: String) -> URL {
        layout.mbox(of: user)
    }

    /// Appends `messages` to the user's mbox, each after an envelope line "From mailferry-lab@localhost <date>", with
    /// line ends stored as LF and "From " lines mboxrd-quoted; holds the mbox's dotlock meanwhile, as pop3d does for a
    /// whole session (so this waits up to 10 s for an open session to end). Message n of a fresh mbox is message n in
    /// POP3. What RETR then returns is `retrieved(_:uidl:)`.
    public func seed(user: String, messages: [[UInt8]]) throws {
        guard users.contains(user) else { throw LabError("no user \(user) in this lab") }
        try MailutilsMbox.append(messages, to: mbox(of: user), identity: identity)
    }

    /// The bytes pop3d's RETR sends (after dot-unstuffing) for a message seeded with `message`, in a session on an
    /// mbox not yet rewritten by an earlier QUIT: CRLF line ends, a final CRLF, the header re-serialized (one space
    /// after each colon; a line without a colon and every header line after it dropped) and, when the session sent
    /// UIDL before, "X-UIDL: <uidl>" as
    /// the last header field. LIST gives this size with `uidl: nil` until UIDL was sent in that session.
    public static func retrieved(_ message: [UInt8], uidl: String?) -> [UInt8] {
        MailutilsMbox.retrieved(message, uidl: uidl)
    }

    /// The pid of pop3d's master process, while it runs.
    public var pid: Int32? {
        daemon.isRunning ? daemon.pid : nil
    }

    public var isRunning: Bool {
        daemon.isRunning
    }

    /// Stops pop3d and every session process it forked: SIGTERM to the process group, SIGKILL after 2 s, back within
    /// 4 s at most. Idempotent. Typically a few milliseconds (the master ends its sessions on SIGTERM).
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first {
            daemon.stop()
        }
    }

    /// Stops pop3d and deletes the root with everything in it.
    public func destroy() throws {
        stop()
        try FileManager.default.removeItem(at: root)
    }

    /// The last `lines` lines of pop3d's log.
    public func logTail(lines: Int = 40) -> String {
        guard let data = FileManager.default.contents(atPath: logFile.path) else {
            return "--- no pop3d log at \(logFile.path) ---"
        }
        let tail = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .suffix(lines)
        return "--- last lines of \(logFile.path) ---\n" + tail.joined(separator: "\n")
    }

    /// What this server does, as measured; for reports and for anyone writing a test against it.
    public var capabilities: String {
        "\(serverVersion) on 127.0.0.1: POP3+STLS port \(port), POP3S port \(tlsPort.map(String.init) ?? "none"), "
            + "APOP \(apop ? "enabled" : "advertised but not configured").\n" + Self.notes
    }

    /// Observed behaviour of GNU Mailutils 3.15 pop3d (Debian 12), measured by MailutilsLabTests and by hand; also
    /// the reasons behind this lab's choices.
    public static let notes = """
        - CAPA before login: TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE EXPIRENEVER USER STLS (STLS only on the \
        plain port and only before TLS; with requireTLS "XTLSREQUIRED" replaces USER). After login CAPA adds \
        "IMPLEMENTATION GNU Mailutils 3.15". "EXPIRENEVER" lacks the space of RFC 2449's "EXPIRE NEVER". No SASL, \
        no AUTH command. STLS and POP3S both work (GnuTLS, TLS 1.3 TLS_AES_256_GCM_SHA384 with the lab's P-256 \
        certificate).
        - The greeting always carries an APOP timestamp "<pid.time@host>", whether or not an APOP database exists; \
        without one, APOP fails with "-ERR [AUTH] Bad login". A failed login costs no delay and keeps the session \
        in the authorization state (USER/PASS may follow on the same connection).
        - Logins are user@domain (virtdomain module), case-sensitive. The mbox is dot-locked (<mbox>.lock) for the \
        whole session; a second session gets "-ERR [IN-USE] Mailbox in use".
        - UIDL: "<32 hex>.<uidvalidity>.<message number>", uidvalidity being the mbox's change time until the first \
        QUIT stores it (X-IMAPbase). Stable across sessions without QUIT; appending to the mbox before any QUIT \
        changes every UIDL.
        - RETR re-serializes the header: no whitespace before a field's colon, exactly one space after it (also \
        "X-Empty: "), continuation lines kept; the first header line without a colon is dropped with every header \
        line after it. Once the session sent UIDL, "X-UIDL: <uidl>" is the last header field. Line ends are CRLF, \
        the last line gets one. Body bytes, 8-bit data, NUL, lone CR and 20,000-byte lines are kept; mboxrd \
        quoting is undone exactly. Corpus messages (well-formed headers) differ only by CRLF and X-UIDL.
        - LIST on a fresh mbox: the size of that re-serialized message, with the X-UIDL line only if UIDL was sent \
        before the LIST (so after LIST+UIDL, RETR = LIST + the X-UIDL line, 55-56 bytes). After RETR of a message \
        with (quoted) "From " lines, every further LIST in that session reports a larger size for it (2277-byte \
        message: 3482, then 4720). After the QUIT rewrite LIST equals RETR and no longer drifts.
        - QUIT rewrites the whole mbox, even without DELE: it stores X-UIDL, adds "X-UID: n" and "Status: O" \
        ("OR" once read; TOP does not count as read) to every message, and "X-IMAPbase: <uidvalidity> <uidnext>" \
        to the first; header fields lost by re-serialization are lost from the file. Later sessions RETR those \
        headers too.
        - The mbox parser knows only LF: CRLF messages in an mbox lose their bodies at the next QUIT, and in a \
        Maildir a CRLF message reads as empty and is rewritten empty at QUIT. The lab stores LF. A message with no \
        empty line after its header swallows the next message; the lab adds that empty line.
        - Every multi-line reply (RETR, LIST, UIDL) ends in a ~44 ms stall unless the client has the next command \
        in flight: pop3d writes replies in small pieces without TCP_NODELAY (Nagle against the client's delayed \
        ACK; the client's own TCP_NODELAY does not help). 20 RETRs: 0.9 s one by one, 0.012 s pipelined \
        (pop3d announces PIPELINING).
        - pop3d switches to group "mail" at startup (root needed); sessions of virtdomain users keep uid 0.
        - Start (certificates, hashes, APOP database, first greeting) about 0.08 s; stop about 5 ms, also with \
        open sessions (SIGTERM to the master ends them).
        """

}
