import Foundation
import Glibc

/// A private, real Postfix on 127.0.0.1 for tests of SMTP delivery: its own config directory, queue and log under one
/// root, SMTP with STARTTLS (and implicit TLS on a second port) using the lab's certificates, SASL AUTH answered by a
/// Dovecot that runs only its auth service, and final delivery of the accepted domains into a `DovecotLab` over LMTP,
/// so a test reads the result back over IMAP.
///
/// Postfix's master must start as root (it binds ports and drops to `mail_owner` itself); without root `start`
/// throws. The lab stops when `stop()` is called or when the object goes away.
public final class PostfixLab: Sendable {
    public let root: URL
    public let ports: PostfixPorts
    /// PEM of the CA that signed the server certificate (CN localhost, IP 127.0.0.1).
    public let caFile: URL
    public let logFile: URL
    /// The addresses Postfix accepts (virtual_mailbox_maps); others are refused at RCPT with 550 5.1.1.
    public let recipients: [String]
    let layout: PostfixLayout
    private let authInstance: String
    private let stopped = Locked(false)

    private init(layout: PostfixLayout, ports: PostfixPorts, recipients: [String], authInstance: String) {
        self.layout = layout
        self.root = layout.root
        self.ports = ports
        self.caFile = layout.certificates.caFile
        self.logFile = layout.logFile
        self.recipients = recipients
        self.authInstance = authInstance
    }

    deinit { stop() }

    /// Starts Postfix delivering `recipients` (addresses at `domains`) into `dovecot` over LMTP.
    ///
    /// - Parameters:
    ///   - saslUsers: login → password for SMTP AUTH (PLAIN, LOGIN), checked by a private Dovecot auth service.
    ///   - requireAuth: refuse RCPT from clients that did not authenticate (a submission relay); otherwise
    ///     127.0.0.1 may send without AUTH.
    ///   - refusing: addresses refused at RCPT by policy (a check_recipient_access map answering REJECT, so
    ///     "554 5.7.1 <address>: Recipient address rejected: refused by the mailferry lab's policy"), whatever the
    ///     other settings say.
    public static func start(
        relayingTo dovecot: DovecotLab, domains: [String] = ["contoso.example"],
        recipients: [String], saslUsers: [String: String] = [:],
        requireAuth: Bool = false, refusing: [String] = []
    ) throws -> PostfixLab {
        guard geteuid() == 0 else {
            throw LabError(
                "the Postfix lab needs root: Postfix's master binds its ports and switches to the postfix "
                    + "user itself")
        }
        guard let postfix = Subprocess.locate("postfix") else {
            throw LabError("the postfix binary was not found on PATH or in /usr/sbin; install the postfix package")
        }
        guard let dovecotBinary = Subprocess.locate("dovecot") else {
            throw LabError("the dovecot binary was not found; install dovecot-core (it answers the lab's SASL)")
        }
        guard let owner = getpwnam("postfix") else {
            throw LabError("there is no postfix user; install the postfix package")
        }
        let postfixUID = owner.pointee.pw_uid
        let postfixGID = owner.pointee.pw_gid
        for (user, password) in saslUsers {
            try PasswdFile.validate(user: user, password: password)
        }
        let identity = try MailIdentity.current()
        let layout = PostfixLayout(root: try makeRoot())
        let files = FileManager.default
        for directory in [layout.configDir, layout.queueDir, layout.dataDir, layout.auth.baseDir, layout.auth.stateDir]
        {
            try files.createDirectory(
                at: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755])
        }
        guard chown(layout.dataDir.path, postfixUID, postfixGID) == 0 else {
            throw LabError.posix("chown(\(layout.dataDir.path))")
        }
        try LabCertificates.generate(in: layout.certificates)
        try Data(recipients.map { "\($0) OK\n" }.joined().utf8).write(to: layout.recipients)
        try PasswdFile.write(
            saslUsers.sorted { $0.key < $1.key }.map { "\($0.key):{PLAIN}\($0.value)\n" }.joined(),
            to: layout.saslUsers)

        let picked = try LoopbackSocket.freePorts(count: 3)
        let ports = PostfixPorts(smtp: picked[0], smtps: picked[1], auth: picked[2])
        let authInstance = "mailferrylab-sasl-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let configuration = PostfixConfiguration(
            layout: layout, ports: ports, domains: domains,
            lmtpPort: dovecot.ports.lmtp, requireAuth: requireAuth,
            refusing: refusing)
        try Data(configuration.mainCf().utf8).write(to: layout.mainCf)
        try Data(configuration.masterCf().utf8).write(to: layout.masterCf)
        try Data(configuration.refusedRecipientsMap().utf8).write(to: layout.refusedRecipients)
        try Data(
            PostfixConfiguration.authDovecotConf(
                layout: layout, instanceName: authInstance, port: ports.auth,
                identity: identity
            ).utf8
        ).write(to: layout.auth.config)

        let lab = PostfixLab(layout: layout, ports: ports, recipients: recipients, authInstance: authInstance)
        do {
            let auth = try Subprocess.run(
                dovecotBinary, ["-c", layout.auth.config.path],
                outputFile: layout.auth.launchOutput)
            guard auth.status == 0 else {
                throw LabError(
                    "the SASL Dovecot exited with status \(auth.status) while starting", details: auth.output)
            }
            let launch = try Subprocess.run(
                postfix, ["-c", layout.configDir.path, "start"],
                outputFile: layout.launchOutput)
            guard launch.status == 0 else {
                throw LabError(
                    "postfix start exited with status \(launch.status)",
                    details: launch.output + "\n" + lab.logTail())
            }
            try lab.waitUntilReady(timeout: LabStartup.readinessTimeout)
        } catch {
            lab.stop()
            throw error
        }
        return lab
    }

    /// Stops Postfix (SIGTERM to its master, SIGKILL after 5 s) and the SASL Dovecot. Idempotent.
    public func stop() {
        let first = stopped.withLock { value -> Bool in
            defer { value = true }
            return !value
        }
        guard first else { return }
        if let text = try? String(contentsOf: layout.masterPid, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            DovecotProcess.commandLine(of: pid)?.contains("master") == true
        {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline && DovecotProcess.isAlive(pid) { usleep(10_000) }
            if DovecotProcess.isAlive(pid) { kill(pid, SIGKILL) }
        }
        DovecotProcess.stop(in: layout.auth, instanceName: authInstance)
    }

    /// Stops everything and deletes the root directory.
    public func destroy() throws {
        stop()
        try FileManager.default.removeItem(at: root)
    }

    /// The last lines of Postfix's log, for failure messages.
    public func logTail(lines: Int = 40) -> String {
        guard let text = try? String(contentsOf: layout.logFile, encoding: .utf8) else {
            return "--- no postfix log at \(layout.logFile.path) ---"
        }
        return "--- last lines of \(layout.logFile.path) ---\n"
            + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Whether Postfix's queue is empty (everything delivered or bounced): no files under maildrop/, incoming/,
    /// active/ and deferred/, looked at in the order a message moves through them (one moving on between two
    /// looks is still seen; `waitForEmptyQueue` wants two empty looks in a row for a retry leaving deferred/).
    public var queueIsEmpty: Bool {
        ["maildrop", "incoming", "active", "deferred"].allSatisfy { name in
            let directory = layout.queueDir.appendingPathComponent(name)
            guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return true }
            for case let entry as String in walker {
                var info = stat()
                if stat(directory.appendingPathComponent(entry).path, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
                    return false
                }
            }
            return true
        }
    }

    /// Waits (bounded) until the queue is empty; false if it is not by then.
    public func waitForEmptyQueue(timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var emptyLooks = 0
        while Date() < deadline {
            emptyLooks = queueIsEmpty ? emptyLooks + 1 : 0
            if emptyLooks == 2 { return true }
            usleep(emptyLooks == 0 ? 20_000 : 100_000)
        }
        return false
    }

    private func waitUntilReady(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let greeting = LoopbackSocket.greeting(port: ports.smtp, deadline: deadline), greeting.hasPrefix("220") {
                break
            }
            guard Date() < deadline else {
                throw LabError(
                    "postfix did not greet on port \(ports.smtp) within \(Int(timeout)) s",
                    details: logTail())
            }
            usleep(50_000)
        }
        for port in [ports.smtps, ports.auth] {
            while true {
                if let fd = LoopbackSocket.connect(port: port, deadline: deadline) {
                    close(fd)
                    break
                }
                guard Date() < deadline else {
                    let authLog = (try? String(contentsOf: layout.auth.logFile, encoding: .utf8)) ?? ""
                    throw LabError("nothing accepted connections on port \(port)", details: logTail() + "\n" + authLog)
                }
                usleep(50_000)
            }
        }
    }

    /// A new root under the temporary directory, searchable by the postfix and mail users (mkdtemp gives 0700).
    private static func makeRoot() throws -> URL {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("mailferry-postfix.XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw LabError.posix("mkdtemp(\(template))") }
        let path = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard chmod(path, 0o755) == 0 else { throw LabError.posix("chmod(\(path))") }
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL.resolvingSymlinksInPath()
    }
}
