import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A `command` secret runs a program the admin chose, but inside mailferry's process tree: it must see only what it
/// needs (SECURITY.md "Secret helpers"). The tests run the real binary (`check --offline` resolves every secret and
/// touches no network) with a helper that writes what it sees to files beside the plan.
@Suite struct SecretHelperTests {
    /// `sh -c`, not a script file (which the shell keeps open). `ls /proc/self/fd` lists ls's own descriptors: what
    /// it inherited through the shell, its redirected stdout, and 3, the folder it is reading.
    /// /proc/$PPID is mailferry itself.
    static let script =
        "env > seen/env; ls /proc/self/fd > seen/fds; cat /proc/$PPID/limits > seen/limits; "
        + "echo from-vault"
    static let plan = """
        {
          plan: "helpers",
          sources: { isp: { host: "pop.wingtip-isp.example" } },
          targets: { archive: { kind: "maildir", path: "mail/{mailbox}" } },
          mailboxes: [
            { source: "isp", user: "alice", password: { env: "ALICE_PW" }, target: "archive" },
            { source: "isp", user: "bob", target: "archive",
              password: { command: ["sh", "-c", "\(script)"], env: ["VAULT_TOKEN", "VAULT_UNSET"] } },
          ],
        }
        """

    /// The helper sees PATH, HOME and the variable its plan entry names; not another mailbox's password variable,
    /// not anything else of mailferry's environment. It has only descriptors 0, 1 and 2: mailferry's own files and
    /// sockets are closed in it.
    @Test func helperSeesOnlyItsOwnEnvironmentAndNoOpenFiles() throws {
        let dir = TempFolder("secret-helper")
        defer { dir.cleanup() }
        let plan = dir.file("helpers.json5", Self.plan)
        try FileManager.default.createDirectory(atPath: dir.path + "/seen", withIntermediateDirectories: true)
        // mailferry itself is started with descriptor 7 open and inheritable (as a careless cron wrapper might
        // leave one): the helper must not get it either.
        let child = try ChildProcess(
            "/bin/sh",
            [
                "-c", "exec 7</dev/null; cd \"$0\" && exec \"$@\"", dir.path,
                EndToEnd.binary, "check", "--offline", plan,
            ],
            environment: [
                "ALICE_PW": "alice-s3cret", "VAULT_TOKEN": "vault-token-1",
                "UNRELATED_SETTING": "x", "HOME": "/root",
            ])
        let result = child.finish(within: 120, "mailferry check")
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        let env = (try? String(contentsOfFile: dir.path + "/seen/env", encoding: .utf8)) ?? ""
        let names = Set(env.split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(env.contains("VAULT_TOKEN=vault-token-1"), "\(env)")
        #expect(!env.contains("alice-s3cret") && !names.contains("ALICE_PW"), "\(env)")
        #expect(!names.contains("UNRELATED_SETTING") && !names.contains("VAULT_UNSET"), "\(env)")
        #expect(names.contains("PATH") && names.contains("HOME"), "\(env)")
        // What a shell adds by itself (PWD, SHLVL, _) is all there may be beyond the base and the named.
        let allowed = Set(CommandRunner.baseVariables + ["VAULT_TOKEN", "PWD", "SHLVL", "_", "OLDPWD"])
        #expect(names.subtracting(allowed).isEmpty, "unexpected: \(names.subtracting(allowed).sorted())")

        let fds = ((try? String(contentsOfFile: dir.path + "/seen/fds", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init).sorted()
        #expect(fds == ["0", "1", "2", "3"], "the helper has descriptors \(fds)")

        // Process hygiene, seen from the helper: mailferry's core file size limit is 0, soft and hard.
        let limits = (try? String(contentsOfFile: dir.path + "/seen/limits", encoding: .utf8)) ?? ""
        let core =
            limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
            .map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(core.count >= 6 && core[4] == "0" && core[5] == "0", "mailferry's core limit: \(core)")
    }

    /// A helper that never stops printing is stopped at 64 KiB, and the problem says where the secret is written,
    /// not what was printed.
    @Test func endlessOutputIsStopped() throws {
        let dir = TempFolder("secret-helper")
        defer { dir.cleanup() }
        let plan = dir.file(
            "endless.json5",
            """
            {
              plan: "endless",
              sources: { isp: { host: "pop.wingtip-isp.example" } },
              targets: { archive: { kind: "maildir", path: "mail/{mailbox}" } },
              mailboxes: [
                { source: "isp", user: "chris", password: { command: ["yes", "leaked-bytes"] }, target: "archive" },
              ],
            }
            """)
        let started = Date()
        let result = try EndToEnd.mailferry(["check", "--offline", plan], in: dir.path, timeout: 60)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(result.code == ExitCode.usage, "\(result.out)\n\(result.err)")
        #expect(
            result.err.contains(
                plan + ":6:37: mailboxes[0].password: secret command failed: yes printed more "
                    + "than 64 KiB and was stopped"), "\(result.err)")
        #expect(!result.err.contains("leaked-bytes") && !result.out.contains("leaked-bytes"))
    }

    /// `env` holds names, never values; problems are located like every other plan problem.
    @Test func envNamesAreValidated() throws {
        let dir = TempFolder("secret-helper")
        defer { dir.cleanup() }
        let file = dir.file(
            "bad.json5",
            """
            {
              plan: "bad",
              sources: { isp: { host: "pop.wingtip-isp.example" } },
              targets: { archive: { kind: "maildir", path: "mail/{mailbox}" } },
              mailboxes: [
                { source: "isp", user: "a", target: "archive",
                  password: { command: ["vault", "a"], env: ["VAULT_ADDR", "VAULT_TOKEN=hunter2", 7] } },
                { source: "isp", user: "b", target: "archive", password: { command: ["vault"], env: "VAULT_ADDR" } },
                { source: "isp", user: "c", target: "archive", password: { command: ["vault"], evn: ["X"] } },
                { source: "isp", user: "d", target: "archive", password: { command: ["vault"], env: ["VAULT_ADDR"] } },
              ],
            }
            """)
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let text = error?.description ?? ""
        #expect(
            text.contains(
                file + ":7:64: mailboxes[0].password.env[1]: must be the name of an environment "
                    + "variable"), "\(text)")
        #expect(
            text.contains(
                file + ":7:87: mailboxes[0].password.env[2]: must be the name of an environment "
                    + "variable in quotes, found a number"), "\(text)")
        #expect(text.contains("mailboxes[1].password.env: must be a list of environment variable names"), "\(text)")
        #expect(text.contains("mailboxes[2].password.evn: unknown key (did you mean \"env\"?)"), "\(text)")
        #expect(!text.contains("mailboxes[3]"), "\(text)")
        #expect(!text.contains("hunter2"), "\(text)")

        let good = dir.file(
            "good.json5",
            """
            {
              plan: "good",
              sources: { isp: { host: "pop.wingtip-isp.example" } },
              targets: { archive: { kind: "maildir", path: "mail/{mailbox}" } },
              mailboxes: [
                { source: "isp", user: "d", target: "archive", password: { command: ["vault"], env: ["VAULT_ADDR"] } },
              ],
            }
            """)
        #expect(try PlanLoader.load(good).mailboxes[0].password == .command(["vault"], env: ["VAULT_ADDR"]))
    }

    /// The environment a helper gets: the base variables mailferry has, a default PATH, and the named ones.
    @Test func environmentIsMinimal() {
        let env = CommandRunner.environment(
            passing: ["VAULT_TOKEN", "MISSING", "HOME"],
            from: [
                "HOME": "/home/m", "LANG": "C.UTF-8", "VAULT_TOKEN": "t",
                "ALICE_PW": "p", "TERM": "xterm",
            ])
        #expect(env == ["PATH=\(CommandRunner.defaultPath)", "HOME=/home/m", "LANG=C.UTF-8", "VAULT_TOKEN=t"])
    }
}
