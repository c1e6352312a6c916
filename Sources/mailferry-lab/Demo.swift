import Foundation
import MailFerryLab

/// `mailferry-lab demo`: a real migration on this machine. A private Dovecot on fixed loopback ports plays the
/// legacy ISP (the ports jobs/demo.json5 names); the real `mailferry` binary migrates three seeded mailboxes into
/// Maildirs under `.demo/target/`, then runs again to show that nothing arrives twice.
enum Demo {
    static let ports = LabPorts(pop3: 19110, pop3s: 19995, imap: 19143, imaps: 19993, lmtp: 19024)
    static let labRoot = URL(fileURLWithPath: "/tmp/mailferry-demo-lab", isDirectory: true)
    static let mailboxes: [(user: String, count: Int, big: Bool)] = [("alice", 120, true), ("bob", 80, false),
                                                                      ("carol", 60, false)]

    static func run(workspace: String) throws -> Int32 {
        let plan = workspace + "/jobs/demo.json5"
        guard FileManager.default.fileExists(atPath: plan) else {
            throw LabError("no \(plan): run the demo from the mailferry checkout (scripts/demo)")
        }
        let mailferry = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("mailferry").path
        guard FileManager.default.isExecutableFile(atPath: mailferry) else {
            throw LabError("no mailferry binary beside mailferry-lab (\(mailferry)); build it first")
        }

        // A fresh start: an earlier demo's lab, state, target and spool go.
        if FileManager.default.fileExists(atPath: labRoot.appendingPathComponent("lab.json").path) {
            try? DovecotLab.attach(root: labRoot).destroy()
        }
        try? FileManager.default.removeItem(at: labRoot)
        let demo = workspace + "/.demo"
        for path in [demo, workspace + "/state/demo.sqlite", workspace + "/state/demo.sqlite-wal",
                     workspace + "/state/demo.sqlite-shm", workspace + "/state/spool-demo"] {
            try? FileManager.default.removeItem(atPath: path)
        }

        var passwords: [String: String] = [:]
        for box in mailboxes { passwords[box.user] = "demo-\(box.user)-\(UUID().uuidString.prefix(8))" }
        say("starting a private Dovecot on 127.0.0.1 (POP3S \(ports.pop3s), POP3+STLS \(ports.pop3)) as the legacy ISP")
        let lab = try DovecotLab.start(users: passwords, root: labRoot, ports: ports)
        defer { try? lab.destroy() }
        var seeded = 0
        for (index, box) in mailboxes.enumerated() {
            let messages = Corpus.mailbox(user: box.user, domain: "wingtiptoys.example", count: box.count,
                                          seed: UInt64(index + 1), bigAttachment: box.big)
            try lab.seed(user: box.user, messages: messages)
            seeded += messages.count
            let bytes = messages.reduce(0) { $0 + $1.count }
            say("seeded \(box.user): \(messages.count) messages, \(bytes / 1024) KiB (text, HTML, 8-bit, "
                + "dot lines, bare LF, no Message-ID, trace headers\(box.big ? ", a 3 MiB attachment" : ""))")
        }

        // What jobs/demo.json5 points at: the lab's CA, and the passwords (a file each, one in the environment).
        try FileManager.default.createDirectory(atPath: demo + "/secrets", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: lab.caFile.path, toPath: demo + "/ca.pem")
        for user in ["alice", "carol"] {
            guard FileManager.default.createFile(atPath: "\(demo)/secrets/\(user)",
                                                 contents: Data((passwords[user]! + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw LabError("cannot write \(demo)/secrets/\(user)")
            }
        }
        let environment = ["DEMO_BOB_PASSWORD": passwords["bob"]!]

        say("first run: mailferry run jobs/demo.json5")
        let first = try ChildProcess(mailferry, ["run", plan], environment: environment, passOutput: true)
        let firstCode = first.wait(timeout: 600) ?? -1
        say("second run: the same command again; nothing is new, so nothing may be delivered")
        let second = try ChildProcess(mailferry, ["run", plan], environment: environment, passOutput: true)
        let secondCode = second.wait(timeout: 600) ?? -1

        // Check the outcome from the outside: every message once in the target, still on the server.
        var delivered = 0
        var stillOnServer = 0
        for box in mailboxes {
            let target = "\(demo)/target/\(box.user)@contoso.example"
            delivered += ((try? FileManager.default.contentsOfDirectory(atPath: target + "/new")) ?? []).count
            let legacy = lab.maildir(of: box.user)
            for sub in ["new", "cur"] {
                stillOnServer += ((try? FileManager.default.contentsOfDirectory(
                    atPath: legacy.appendingPathComponent(sub).path)) ?? []).count
            }
        }
        say("result: \(delivered) of \(seeded) messages in .demo/target/ (each once), \(stillOnServer) still on the "
            + "legacy server (leave a copy); exit codes \(firstCode) and \(secondCode); reports in reports/demo/")
        let ok = firstCode == 0 && secondCode == 0 && delivered == seeded && stillOnServer == seeded
        say(ok ? "demo: OK" : "demo: FAILED")
        return ok ? 0 : 1
    }

    static func say(_ text: String) {
        // Unbuffered: the children write to the same terminal in between.
        FileHandle.standardOutput.write(Data("== \(text)\n".utf8))
    }
}
