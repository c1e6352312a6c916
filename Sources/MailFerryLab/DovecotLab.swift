import Foundation
import Glibc

/// A private, isolated, real Dovecot on 127.0.0.1: POP3 (+STLS), POP3S, IMAP (+STARTTLS), IMAPS and LMTP, with its
/// own config, users, certificates, Maildirs, sockets and log under one root directory.
///
/// Tests run the client against the real server rather than a fake, so the lab starts the Debian package's binary
/// with a config written from scratch. Many labs can run at once: each has its own ports, base_dir and
/// instance_name. A lab stops when `stop()` is called or when the object goes away, unless it was detached.
public final class DovecotLab: Sendable {
    /// Logs in to any user's mailbox as "user*admin" (IMAP LOGIN, POP3 USER) or as SASL PLAIN authcid.
    public static let masterUser = "admin"
    public static let masterPassword = "admin-secret"

    public let root: URL
    public let ports: LabPorts
    /// PEM of the self-signed CA that signed the server certificate (CN "mailferry lab CA").
    public let caFile: URL
    public let logFile: URL
    /// Dovecot's `instance_name`; its processes are titled "dovecot-<instanceName>/<service>".
    public let instanceName: String

    let layout: LabLayout
    let identity: MailIdentity
    private let lifecycle: Locked<Lifecycle>

    private struct Lifecycle {
        var stopped = false
        var stopsOnDeinit: Bool
        /// A temporary root the lab made itself is removed with it (set MAILFERRY_KEEP_LABS=1 to keep it for a look
        /// at its logs): a test suite run seeds hundreds of megabytes of mail.
        var removesRoot = false
    }

    private init(layout: LabLayout, state: LabState, stopsOnDeinit: Bool) {
        self.layout = layout
        self.root = layout.root
        self.ports = state.ports
        self.caFile = layout.caFile
        self.logFile = layout.logFile
        self.instanceName = state.instanceName
        self.identity = state.identity
        self.lifecycle = Locked(Lifecycle(stopsOnDeinit: stopsOnDeinit))
    }

    deinit {
        let (stops, removes) = lifecycle.withLock { ($0.stopsOnDeinit, $0.removesRoot) }
        if stops {
            stop()
            if removes && ProcessInfo.processInfo.environment["MAILFERRY_KEEP_LABS"] == nil {
                try? FileManager.default.removeItem(at: root)
            }
        }
    }

    /// Starts a fresh Dovecot in a new temporary directory, or in `root` (created if missing).
    ///
    /// - Parameters:
    ///   - users: user name → password. Names are lower case (logins are lowercased by `auth_username_format`).
    ///   - ports: fixed ports; by default free high ports are picked, and picked again if Dovecot finds one taken.
    ///   - quota: load the quota plugin (no user has a limit until `setQuota`); off, nothing about quota is
    ///     configured.
    /// - Throws: `LabError` with Dovecot's output and log tail; whatever was started is stopped again.
    public static func start(
        users: [String: String], root: URL? = nil, ports: LabPorts? = nil,
        quota: Bool = false
    ) throws -> DovecotLab {
        for (user, password) in users {
            try PasswdFile.validate(user: user, password: password)
        }
        let identity = try MailIdentity.current()
        guard let dovecot = Subprocess.locate("dovecot") else {
            throw LabError("the dovecot binary was not found on PATH or in /usr/sbin; install dovecot-core")
        }
        let layout = LabLayout(root: try prepareRoot(root, identity: identity))
        try checkNotRunning(layout)
        // A restart on the root of a stopped lab is fresh too: new config, certificates and users. Maildirs stay.
        try? FileManager.default.removeItem(at: layout.users)
        let instanceName = "mailferrylab-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)

        try LabCertificates.generate(in: layout)
        try FileManager.default.createDirectory(at: layout.stateDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: layout.homes, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try PasswdFile.write("\(masterUser):{PLAIN}\(masterPassword)\n", to: layout.masterUsers)
        try FileManager.default.createDirectory(
            at: layout.users, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for user in users.keys.sorted() {
            try addUser(user, password: users[user]!, layout: layout, identity: identity)
        }

        let dhFile =
            FileManager.default.fileExists(atPath: DovecotConfiguration.defaultDHFile)
            ? DovecotConfiguration.defaultDHFile : nil
        let attempts = ports == nil ? 3 : 1
        for attempt in 1...attempts {
            let chosen = try ports ?? LabPorts.free()
            let configuration = DovecotConfiguration(
                instanceName: instanceName, layout: layout, ports: chosen, identity: identity, dhFile: dhFile,
                quota: quota)
            try Data(configuration.render().utf8).write(to: layout.config)
            let state = LabState(instanceName: instanceName, ports: chosen, identity: identity, dovecot: dovecot.path)
            try state.write(to: layout)

            let launch = try Subprocess.run(dovecot, ["-c", layout.config.path], outputFile: layout.launchOutput)
            if launch.status != 0 {
                if attempt < attempts && launch.output.contains("Address already in use") {
                    continue
                }
                throw LabError(
                    "dovecot exited with status \(launch.status) while starting",
                    details: "--- dovecot output ---\n\(launch.output)\n" + logTail(of: layout))
            }
            let lab = DovecotLab(layout: layout, state: state, stopsOnDeinit: true)
            lab.lifecycle.withLock { $0.removesRoot = root == nil }
            do {
                try lab.waitUntilReady(timeout: LabStartup.readinessTimeout)
            } catch {
                lab.stop()
                throw error
            }
            return lab
        }
        throw LabError("no free ports after \(attempts) attempts")
    }

    /// A handle on a lab started earlier, possibly by another process (`mailferry-lab start`). It does not stop
    /// the lab when it goes away; call `stop()` for that.
    public static func attach(root: URL) throws -> DovecotLab {
        let layout = LabLayout(root: canonical(root))
        let state = try LabState.read(from: layout)
        return DovecotLab(layout: layout, state: state, stopsOnDeinit: false)
    }

    /// The pid of the running master process, or nil.
    public var masterPid: Int32? {
        DovecotProcess.runningMaster(in: layout)
    }

    public var isRunning: Bool {
        masterPid != nil
    }

    /// The lab's users, sorted.
    public var users: [String] {
        PasswdFile.users(in: layout)
    }

    /// Adds a user with an empty Maildir; the user can log in at once, no reload needed.
    public func addUser(_ name: String, password: String) throws {
        try Self.addUser(name, password: password, layout: layout, identity: identity)
    }

    private static func addUser(_ name: String, password: String, layout: LabLayout, identity: MailIdentity) throws {
        try PasswdFile.validate(user: name, password: password)
        guard !FileManager.default.fileExists(atPath: layout.passwdFile(of: name).path) else {
            throw LabError("user \(name) already exists")
        }
        // The Maildir first: once the passwd-file exists, the user can log in.
        try MaildirSeeder.createMaildir(layout.maildir(of: name), identity: identity)
        let line = PasswdFile.line(user: name, password: password, identity: identity, home: layout.home(of: name))
        try PasswdFile.create(user: name, contents: line, in: layout)
    }

    /// Limits the storage of `user`'s mailbox to `bytes` (nil: no limit), as a userdb field in the extra fields of
    /// the user's passwd-file (`userdb_quota_rule=*:storage=<bytes>B`; without the `userdb_` prefix the passwd-file
    /// userdb ignores it). Needs a lab started with `quota: true`. Counts what Dovecot stores (LF line ends).
    ///
    /// Returns after a little over a second: Dovecot re-reads a passwd-file at most once per second and only when
    /// its modification time or size changed (see `PasswdFile`), so the pause makes the new limit visible to the
    /// next session and keeps two quick calls from sharing a modification time.
    public func setQuota(user: String, bytes: Int?) throws {
        let file = layout.passwdFile(of: user)
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { throw LabError("no user \(user)") }
        var fields = text.trimmingCharacters(in: .newlines)
            .split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 8 else { throw LabError("unexpected passwd-file line for \(user): \(text)") }
        // "storage=0" is "no limit"; leaving the rule out would not do, as the Maildir++ backend then goes back to
        // the limit it wrote into the maildirsize file.
        fields[7] = "userdb_quota_rule=*:storage=\(bytes.map { "\($0)B" } ?? "0")"
        try PasswdFile.replace(user: user, contents: fields.joined(separator: ":") + "\n", in: layout)
        usleep(1_100_000)
    }

    /// Dovecot's LMTP Unix socket (the built-in listener in base_dir), beside the TCP port.
    public var lmtpSocket: URL {
        layout.baseDir.appendingPathComponent("lmtp")
    }

    /// The user's Maildir (with cur/, new/ and tmp/).
    public func maildir(of user: String) -> URL {
        layout.maildir(of: user)
    }

    /// Writes `messages` into the user's Maildir as an MTA would: into new/, or into cur/ flagged \Seen when `seen`.
    /// Returns the file names in order; Dovecot gives them ascending UIDs in that order.
    @discardableResult
    public func seed(user: String, messages: [[UInt8]], seen: Bool = false) throws -> [String] {
        guard users.contains(user) else { throw LabError("no user \(user) in this lab") }
        return try MaildirSeeder.deliver(messages, into: maildir(of: user), identity: identity, seen: seen)
    }

    /// Dovecot's virtual size of a message (every bare LF counted as CRLF): what POP3 LIST and STAT report.
    public static func virtualSize(of message: [UInt8]) -> Int {
        MaildirSeeder.virtualSize(of: message)
    }

    /// A message as Dovecot serves it (POP3 RETR, IMAP FETCH BODY[]): every bare LF turned into CRLF.
    public static func served(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 40)
        var previous: UInt8 = 0
        for byte in message {
            if byte == 10 && previous != 13 { out.append(13) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// A message as Dovecot writes what arrives by IMAP APPEND or LMTP to disk (`mail_save_crlf = no`): CRLF turned
    /// into LF.
    public static func stored(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count)
        for (index, byte) in message.enumerated()
        where !(byte == 13 && index + 1 < message.count && message[index + 1] == 10) {
            out.append(byte)
        }
        return out
    }

    /// Stops Dovecot (SIGTERM, then SIGKILL for whatever is stuck; at most 5 s) and returns once none of its processes
    /// is left. Idempotent. Typically takes 10–30 ms; see `DovecotProcess.stop` for how it avoids Dovecot's
    /// one-second exit sleep.
    public func stop() {
        let first = lifecycle.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first {
            DovecotProcess.stop(in: layout, instanceName: instanceName)
        }
    }

    /// Leaves Dovecot running when this object goes away (what `mailferry-lab start` wants).
    public func detach() {
        lifecycle.withLock { $0.stopsOnDeinit = false }
    }

    /// Stops Dovecot and deletes the root directory with everything in it.
    public func destroy() throws {
        stop()
        try FileManager.default.removeItem(at: root)
    }

    /// How many of the user's IMAP sessions have logged in but not yet ended, read off Dovecot's log. A session
    /// ends with "Disconnected" or "Logged out" once the server has done everything its client had sent, also when
    /// the client was killed: from the session's own process ("imap(user)<pid><session>: …"), or from imap-login
    /// ("… session=<session>") when the client was gone before the session could start. A session ending as its
    /// process winds down is sometimes logged without its prefix ("imap: Info: Disconnected: …"): such a line ends
    /// one session nothing else ended (of this user, as far as the log can tell).
    public func openIMAPSessions(of user: String) -> Int {
        guard let text = try? String(contentsOf: layout.logFile, encoding: .utf8) else { return 0 }
        var open = Set<Substring>()
        var ended = Set<Substring>()
        var endedUnnamed = 0
        let process = "imap(\(user))<"
        for line in text.split(separator: "\n") {
            let tagged = line.range(of: "session=<").map { line[$0.upperBound...].prefix { $0 != ">" } }
            if line.contains("imap-login: Info: Login: user=<\(user)>,"), let tagged {
                open.insert(tagged)
            } else if line.contains(": Info: Disconnected") || line.contains(": Info: Logged out") {
                if let range = line.range(of: process) {
                    ended.insert(line[range.upperBound...].drop { $0 != "<" }.dropFirst().prefix { $0 != ">" })
                } else if line.contains(" imap: Info: ") {
                    endedUnnamed += 1
                } else if let tagged {
                    ended.insert(tagged)
                }
            }
        }
        return max(0, open.subtracting(ended).count - endedUnnamed)
    }

    /// The last `lines` lines of Dovecot's log, for failure messages.
    public func logTail(lines: Int = 40) -> String {
        Self.logTail(of: layout, lines: lines)
    }

    // MARK: - Starting

    private static func canonical(_ url: URL) -> URL {
        url.standardizedFileURL.resolvingSymlinksInPath()
    }

    /// Creates the root (mkdtemp when none is given) and makes it searchable: mkdtemp gives 0700, and as root the
    /// mail processes run as nobody.
    private static func prepareRoot(_ requested: URL?, identity: MailIdentity) throws -> URL {
        let root: URL
        if let requested {
            let existing = (try? FileManager.default.contentsOfDirectory(atPath: requested.path)) ?? []
            let layout = LabLayout(root: requested)
            guard existing.isEmpty || FileManager.default.fileExists(atPath: layout.state.path) else {
                throw LabError(
                    "\(requested.path) exists and is not a lab root (no \(layout.state.lastPathComponent)); "
                        + "give an empty or new directory")
            }
            try FileManager.default.createDirectory(at: requested, withIntermediateDirectories: true)
            root = canonical(requested)
        } else {
            let template = FileManager.default.temporaryDirectory.appendingPathComponent("mailferry-lab.XXXXXX").path
            var buffer = Array(template.utf8CString)
            guard mkdtemp(&buffer) != nil else { throw LabError.posix("mkdtemp(\(template))") }
            let path = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            root = canonical(URL(fileURLWithPath: path, isDirectory: true))
        }
        guard chmod(root.path, 0o755) == 0 else { throw LabError.posix("chmod(\(root.path))") }
        try identity.checkTraversable(root)
        guard LabLayout(root: root).baseDirFitsSocketNames else {
            throw LabError(
                "the lab root \(root.path) is too long: Dovecot's socket paths below it would exceed the "
                    + "108-byte limit of Unix socket names; choose a shorter root")
        }
        return root
    }

    private static func checkNotRunning(_ layout: LabLayout) throws {
        if let pid = DovecotProcess.runningMaster(in: layout) {
            throw LabError("a lab is already running under \(layout.root.path) (dovecot pid \(pid)); stop it first")
        }
    }

    /// Waits until every port accepts a connection and the plain-text ports greet (POP3 "+OK", RFC 1939 §4; IMAP
    /// "* OK", RFC 9051 §7.1.1; LMTP "220", RFC 2033 §4.1). Dovecot binds its listeners before it daemonizes, but
    /// the login processes greet only once the auth process is up, so the greeting is the real readiness signal.
    /// The TLS listeners belong to the same login processes (see the config), so a connect is enough for them.
    private func waitUntilReady(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let greetings = [(ports.pop3, "+OK"), (ports.imap, "* OK"), (ports.lmtp, "220")]
        for (port, expected) in greetings {
            var last: String?
            while true {
                last = LoopbackSocket.greeting(port: port, deadline: deadline)
                if last?.hasPrefix(expected) == true {
                    break
                }
                guard Date() < deadline else {
                    let seen = last.map { "greeted \"\($0)\"" } ?? "no greeting"
                    throw LabError(
                        "dovecot did not become ready within \(Int(timeout)) s: port \(port) \(seen), "
                            + "expected \"\(expected)\"",
                        details: Self.logTail(of: layout))
                }
                usleep(50_000)
            }
        }
        for port in [ports.pop3s, ports.imaps] {
            while true {
                if let fd = LoopbackSocket.connect(port: port, deadline: deadline) {
                    close(fd)
                    break
                }
                guard Date() < deadline else {
                    throw LabError(
                        "dovecot did not accept connections on port \(port)", details: Self.logTail(of: layout))
                }
                usleep(50_000)
            }
        }
    }

    private static func logTail(of layout: LabLayout, lines: Int = 40) -> String {
        guard let text = try? String(contentsOf: layout.logFile, encoding: .utf8) else {
            return "--- no dovecot log at \(layout.logFile.path) ---"
        }
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
        return "--- last lines of \(layout.logFile.path) ---\n" + tail.joined(separator: "\n")
    }
}
