import Foundation
import MailFerryLab

/// `mailferry-lab demo`: a real migration on this machine. A private Dovecot on fixed loopback ports plays the
/// legacy ISP (the ports jobs/demo.json5 names); the real `mailferry` binary migrates three seeded mailboxes into
/// Maildirs under `.demo/target/` (run 1), fetches two batches of recent mail that arrive during the transition
/// (runs 2 and 3), runs a fourth time to show that nothing arrives twice, and verifies; reports/demo/index.html
/// shows the whole story. With `keep`, the lab stays up afterwards, so every command can be tried against it.
enum Demo {
    static let ports = LabPorts(pop3: 19110, pop3s: 19995, imap: 19143, imaps: 19993, lmtp: 19024)
    static let labRoot = URL(fileURLWithPath: "/tmp/mailferry-demo-lab", isDirectory: true)
    static let mailboxes: [(user: String, count: Int, big: Bool)] = [
        ("alice", 120, true), ("bob", 80, false),
        ("carol", 60, false),
    ]

    static func run(workspace: String, keep: Bool = false) throws -> Int32 {
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
        for path in [
            demo, workspace + "/state/demo.sqlite", workspace + "/state/demo.sqlite-wal",
            workspace + "/state/demo.sqlite-shm", workspace + "/state/spool-demo",
        ] {
            try? FileManager.default.removeItem(atPath: path)
        }

        var passwords: [String: String] = [:]
        for box in mailboxes { passwords[box.user] = "demo-\(box.user)-\(UUID().uuidString.prefix(8))" }
        say("starting a private Dovecot on 127.0.0.1 (POP3S \(ports.pop3s), POP3+STLS \(ports.pop3)) as the legacy ISP")
        let lab = try DovecotLab.start(users: passwords, root: labRoot, ports: ports)
        defer {
            if keep { lab.detach() } else { try? lab.destroy() }
        }
        var seeded = 0
        for (index, box) in mailboxes.enumerated() {
            let messages = Corpus.mailbox(
                user: box.user, domain: "wingtiptoys.example", count: box.count,
                seed: UInt64(index + 1), bigAttachment: box.big)
            try lab.seed(user: box.user, messages: messages)
            seeded += messages.count
            let bytes = messages.reduce(0) { $0 + $1.count }
            say(
                "seeded \(box.user): \(messages.count) messages, \(bytes / 1024) KiB (text, HTML, 8-bit, "
                    + "dot lines, bare LF, no Message-ID, trace headers\(box.big ? ", a 3 MiB attachment" : ""))")
        }

        // What jobs/demo.json5 points at: the lab's CA, and the passwords (a file each, one in the environment).
        try FileManager.default.createDirectory(
            atPath: demo + "/secrets", withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: lab.caFile.path, toPath: demo + "/ca.pem")
        // bob's comes from the environment (DEMO_BOB_PASSWORD); his file is there to try the plan after the demo.
        for user in ["alice", "bob", "carol"] {
            guard
                FileManager.default.createFile(
                    atPath: "\(demo)/secrets/\(user)",
                    contents: Data((passwords[user]! + "\n").utf8),
                    attributes: [.posixPermissions: 0o600])
            else {
                throw LabError("cannot write \(demo)/secrets/\(user)")
            }
        }
        let environment = ["DEMO_BOB_PASSWORD": passwords["bob"]!]

        // The transition as it goes: after the first run, three weeks of recent legacy mail (dying down day by
        // day, as MX records move and people learn the new addresses) arrive in two batches, each fetched by the
        // next run; the last run finds nothing new. Then verify, and the dashboard shows it all.
        func run(_ title: String, _ arguments: [String]) throws -> Int32 {
            say("\(title): mailferry \(arguments.joined(separator: " "))")
            let child = try ChildProcess(mailferry, arguments, environment: environment, passOutput: true)
            return child.wait(timeout: 600) ?? -1
        }
        var codes = [try run("first run", ["run", plan])]
        for (batch, days) in [(1, 11...20), (2, 1...10)] {
            let recent = recentMail(days: days)
            for (user, messages) in recent { try lab.seed(user: user, messages: messages) }
            let count = recent.values.reduce(0) { $0 + $1.count }
            seeded += count
            say(
                "\(count) new legacy \(count == 1 ? "message" : "messages") arrived (\(days.upperBound) to \(days.lowerBound) days ago)"
            )
            codes.append(try run("run \(batch + 1)", ["run", plan]))
        }
        codes.append(try run("last run: nothing is new, so nothing may be delivered", ["run", plan]))
        codes.append(try run("verify", ["verify", plan]))
        // Check the outcome from the outside: every message once in the target, still on the server.
        var delivered = 0
        var stillOnServer = 0
        for box in mailboxes {
            let target = "\(demo)/target/\(box.user)@contoso.example"
            delivered += ((try? FileManager.default.contentsOfDirectory(atPath: target + "/new")) ?? []).count
            let legacy = lab.maildir(of: box.user)
            for sub in ["new", "cur"] {
                stillOnServer +=
                    ((try? FileManager.default.contentsOfDirectory(
                        atPath: legacy.appendingPathComponent(sub).path)) ?? []).count
            }
        }
        say(
            "result: \(delivered) of \(seeded) messages in .demo/target/ (each once), \(stillOnServer) still on the "
                + "legacy server (leave a copy); exit codes \(codes.map(String.init).joined(separator: ", ")); reports and "
                + "the dashboard in reports/demo/")
        let ok = codes.allSatisfy { $0 == 0 } && delivered == seeded && stillOnServer == seeded
        say(ok ? "demo: OK" : "demo: FAILED")
        if keep {
            print(afterwards(workspace: workspace, mailferry: mailferry))
        } else {
            say("the lab is stopped; scripts/demo --keep leaves it running, to try mailferry against it")
        }
        return ok ? 0 : 1
    }

    /// What to try with the lab kept running, and how to stop it.
    static func afterwards(workspace: String, mailferry: String) -> String {
        // .build/release/mailferry rather than the folder it links to, when that is the binary that runs.
        let real = URL(fileURLWithPath: mailferry).resolvingSymlinksInPath().path
        let linked = [".build/release/mailferry", ".build/debug/mailferry"].first {
            URL(fileURLWithPath: workspace + "/" + $0).resolvingSymlinksInPath().path == real
        }
        let shown =
            linked
            ?? (mailferry.hasPrefix(workspace + "/") ? String(mailferry.dropFirst(workspace.count + 1)) : mailferry)
        let folder = (shown as NSString).deletingLastPathComponent
        let lab = (folder as NSString).appendingPathComponent("mailferry-lab")
        return """
            == the lab keeps running: Dovecot on 127.0.0.1 (POP3S \(ports.pop3s), POP3+STLS \(ports.pop3)), under \(labRoot.path)
               try it (from \(workspace)):
                 export DEMO_BOB_PASSWORD="$(cat .demo/secrets/bob)"   # jobs/demo.json5 reads bob's from the environment
                 \(shown) check jobs/demo.json5      # logs in everywhere, moves nothing
                 \(lab) seed --root \(labRoot.path) --user alice --count 5 --seed 42 --domain wingtiptoys.example
                 \(shown) run jobs/demo.json5        # fetches alice's 5 new messages
                 \(shown) status jobs/demo.json5
                 \(shown) verify jobs/demo.json5
               stop it when done:
                 \(lab) stop --root \(labRoot.path)
            """
    }

    /// Legacy mail of the last weeks, `days` ago (fewer each day), per user: the transition's trickle.
    static func recentMail(days: ClosedRange<Int>) -> [String: [[UInt8]]] {
        let midnight = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400
        var mail: [String: [[UInt8]]] = [:]
        for (index, box) in mailboxes.enumerated() {
            for day in days {
                // About 6, 4 and 3 a day three weeks ago, down to none or one by now.
                let base = Double([6, 4, 3][index % 3]) * Double(day) / 20
                let count = max(0, Int(base.rounded()) + (day * 7 + index) % 3 - 1)
                guard count > 0 else { continue }
                mail[box.user, default: []] += Corpus.mailbox(
                    user: box.user, domain: "wingtiptoys.example", count: count, seed: UInt64(1000 + day * 10 + index),
                    bigAttachment: false, sentFrom: midnight - Int64(day) * 86_400 + 7 * 3_600, spacing: 900...5_400)
            }
        }
        return mail
    }

    static func say(_ text: String) {
        // Unbuffered: the children write to the same terminal in between.
        FileHandle.standardOutput.write(Data("== \(text)\n".utf8))
    }
}
