import Foundation
import Glibc

extension MailutilsLab {
    // MARK: - Starting

    static func validate(user: String, password: String) throws {
        try PasswdFile.validate(user: user, password: password)
        let control = password.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        guard password.utf8.count <= 200, !control else {
            throw LabError("the password of \(user) must be at most 200 bytes without control characters")
        }
    }

    /// pop3d (pop3d.c, main) calls `setgid(<group "mail">)` before anything else in daemon mode and exits with
    /// EX_OSERR when that fails; the only way around it is an interactive session on a tty. So the lab needs root,
    /// or "mail" as the effective group already. Checked here so the failure names the cause.
    static func checkMailGroup() throws {
        guard let mail = getgrnam("mail") else {
            throw LabError("GNU pop3d needs a group named \"mail\" (it switches to it at startup); none exists here")
        }
        guard geteuid() == 0 || getegid() == mail.pointee.gr_gid else {
            throw LabError(
                "GNU pop3d switches to group \"mail\" at startup, which only root (or a process whose "
                    + "group already is mail) may do; run the Mailutils lab as root")
        }
    }

    static func prepareRoot(_ requested: URL?) throws -> URL {
        let root: URL
        if let requested {
            let existing = (try? FileManager.default.contentsOfDirectory(atPath: requested.path)) ?? []
            guard existing.isEmpty else {
                throw LabError("\(requested.path) is not empty; give an empty or new directory for the lab root")
            }
            try FileManager.default.createDirectory(at: requested, withIntermediateDirectories: true)
            root = requested.standardizedFileURL.resolvingSymlinksInPath()
        } else {
            let template = FileManager.default.temporaryDirectory.appendingPathComponent("mailutils-lab.XXXXXX").path
            var buffer = Array(template.utf8CString)
            guard mkdtemp(&buffer) != nil else { throw LabError.posix("mkdtemp(\(template))") }
            let path = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            root = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL.resolvingSymlinksInPath()
        }
        guard chmod(root.path, 0o755) == 0 else { throw LabError.posix("chmod(\(root.path))") }
        return root
    }

    static func serverVersion(_ pop3d: URL, layout: MailutilsLayout) throws -> String {
        let outcome = try Subprocess.run(
            pop3d, ["--version"],
            outputFile: layout.root.appendingPathComponent(
                "pop3d-version.out"))
        guard outcome.status == 0, let first = outcome.output.split(separator: "\n").first else {
            throw LabError("\(pop3d.path) --version exited with status \(outcome.status)", details: outcome.output)
        }
        return String(first)
    }

    /// Appends passwd lines (crypt(3) SHA-512 hashes made by `openssl passwd -6`, one call for all users) and, with
    /// `apop`, APOP database entries (`popauth`, which writes the GDBM file pop3d reads), and creates empty mboxes.
    static func addUsers(
        _ users: [String: String], layout: MailutilsLayout, identity: MailIdentity,
        apop: Bool
    ) throws {
        guard !users.isEmpty else { return }
        let names = users.keys.sorted()
        let hashes = try cryptHashes(names.map { users[$0]! }, layout: layout)
        for name in names {
            let home = layout.home(of: name)
            try FileManager.default.createDirectory(
                at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try identity.own(home)
            let mbox = layout.mbox(of: name)
            if !FileManager.default.fileExists(atPath: mbox.path) {
                try Data().write(to: mbox)
                guard chmod(mbox.path, 0o600) == 0 else { throw LabError.posix("chmod(\(mbox.path))") }
                try identity.own(mbox)
            }
        }
        if apop {
            guard let popauth = Subprocess.locate("popauth") else {
                throw LabError("popauth (from mailutils-pop3d) was not found on PATH; it writes the APOP database")
            }
            for name in names {
                let outcome = try Subprocess.run(
                    popauth,
                    [
                        "--add", "--user=\(name)@\(domain)", "--password=\(users[name]!)",
                        "--file=\(layout.apopDatabase.path)",
                    ],
                    outputFile: layout.apopDir.appendingPathComponent("popauth.out"))
                guard outcome.status == 0 else {
                    throw LabError(
                        "popauth --add for \(name) exited with status \(outcome.status)",
                        details: outcome.output)
                }
            }
        }
        // The passwd line last: once it is there, the user can log in.
        var text = (try? String(contentsOf: layout.passwdFile(domain: domain), encoding: .utf8)) ?? ""
        for (name, hash) in zip(names, hashes) {
            text += "\(name):\(hash):\(identity.uid):\(identity.gid)::\(layout.home(of: name).path):/bin/false\n"
        }
        // Replaced by rename: pop3d reads the file at every login and must never see half of it.
        let temporary = layout.passwdDir.appendingPathComponent(".\(domain).tmp")
        try Data(text.utf8).write(to: temporary)
        guard chmod(temporary.path, 0o644) == 0 else { throw LabError.posix("chmod(\(temporary.path))") }
        guard rename(temporary.path, layout.passwdFile(domain: domain).path) == 0 else {
            throw LabError.posix("rename(\(temporary.path))")
        }
    }

    static func cryptHashes(_ passwords: [String], layout: MailutilsLayout) throws -> [String] {
        guard let openssl = Subprocess.locate("openssl") else {
            throw LabError("the openssl CLI was not found on PATH; install the openssl package")
        }
        // From a file rather than argv, so that no password is taken for an option.
        let input = layout.apopDir.appendingPathComponent("passwords.tmp")
        try Data(passwords.map { $0 + "\n" }.joined().utf8).write(to: input)
        defer { unlink(input.path) }
        let outcome = try Subprocess.run(
            openssl, ["passwd", "-6", "-in", input.path],
            outputFile: layout.apopDir.appendingPathComponent("openssl-passwd.out"))
        let hashes = outcome.output.split(separator: "\n").map(String.init)
        guard outcome.status == 0, hashes.count == passwords.count, hashes.allSatisfy({ $0.hasPrefix("$6$") }) else {
            throw LabError("openssl passwd -6 exited with status \(outcome.status)", details: outcome.output)
        }
        return hashes
    }

    static func passwdEntries(_ layout: MailutilsLayout) -> [(user: String, line: String)] {
        guard let text = try? String(contentsOf: layout.passwdFile(domain: domain), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            line.split(separator: ":", maxSplits: 1).first.map { (String($0), String(line)) }
        }
    }

    /// Ready when the plain port greets "+OK" (pop3d binds every port before accepting) and the TLS port accepts.
    /// Fails at once when pop3d exits or reports a port it could not bind (it keeps running with the other one).
    func waitUntilReady(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        func check() throws {
            if let status = daemon.exitStatus {
                throw LabError("pop3d exited with status \(status) while starting", details: logTail())
            }
            if logTail(lines: 20).contains("cannot open connection") {
                throw LabError("pop3d could not listen on every port", details: logTail())
            }
        }
        while true {
            try check()
            if LoopbackSocket.greeting(port: port, deadline: deadline)?.hasPrefix("+OK") == true {
                break
            }
            guard Date() < deadline else {
                throw LabError("pop3d did not greet on port \(port) within \(Int(timeout)) s", details: logTail())
            }
            usleep(20_000)
        }
        if let tlsPort {
            while true {
                try check()
                if let fd = LoopbackSocket.connect(port: tlsPort, deadline: deadline) {
                    close(fd)
                    break
                }
                guard Date() < deadline else {
                    throw LabError("pop3d did not accept connections on port \(tlsPort)", details: logTail())
                }
                usleep(20_000)
            }
        }
        try check()
    }
}
