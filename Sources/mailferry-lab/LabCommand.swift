import Foundation
import MailFerryLab

/// One invocation of `mailferry-lab`, parsed from the arguments without touching anything, so parsing can be tested
/// (and its errors snapshotted) apart from starting servers.
enum LabCommand: Equatable {
    case start(root: URL?, users: [String: String], ports: PortChoice)
    case stop(root: URL)
    case seed(root: URL, user: String, count: Int, seed: UInt64, bigAttachment: Bool, domain: String, seen: Bool)
    case demo(workspace: URL, keep: Bool)
    case help

    /// Ports given on the command line; the others are picked free at start.
    struct PortChoice: Equatable {
        var pop3: Int?
        var pop3s: Int?
        var imap: Int?
        var imaps: Int?
        var lmtp: Int?

        var isEmpty: Bool {
            [pop3, pop3s, imap, imaps, lmtp].allSatisfy { $0 == nil }
        }
    }

    struct UsageError: Error, Equatable {
        let message: String
    }

    static let usage = """
        usage: mailferry-lab <command> [options]

        A private Dovecot on 127.0.0.1 (POP3+STLS, POP3S, IMAP+STARTTLS, IMAPS, LMTP) for tests and demos.

        commands:
          start [--root DIR] [--users NAME:PASSWORD,...] [--pop3 PORT] [--pop3s PORT]
                [--imap PORT] [--imaps PORT] [--lmtp PORT]
              Start a lab (in a new temporary directory unless --root is given) and leave it running.
              Prints key=value lines: root, pid, the ports, ca, log, master_user, master_password, users.
              Ports not given are picked free.
          stop --root DIR
              Stop the lab under DIR (by base_dir/master.pid) and wait until its processes are gone.
          seed --root DIR --user NAME --count N [--seed S] [--big] [--domain DOMAIN] [--seen]
              Write N corpus messages into NAME's Maildir (new/, or cur/ as read with --seen).
              --big adds a ~3 MiB attachment; --seed picks another deterministic mailbox (default 1);
              --domain is the recipient domain in the headers (default example.com).
          demo [--workspace DIR] [--keep]
              The end-to-end demo: a lab on fixed ports 19110/19995/19143/19993/19024 as the legacy ISP, three
              seeded mailboxes, `mailferry run DIR/jobs/demo.json5` four times (two batches of new legacy mail
              arrive in between), then `mailferry verify` (DIR: default the current folder). The lab is stopped
              at the end; --keep leaves it running and prints how to use it and how to stop it.

        exit status: 0 ok, 1 the lab or the demo failed (message on stderr), 2 bad arguments.
        """

    static func parse(_ arguments: [String]) throws -> LabCommand {
        guard let name = arguments.first else { throw UsageError(message: "missing command") }
        if ["-h", "--help", "help"].contains(name) {
            return .help
        }
        var options = try Options(Array(arguments.dropFirst()))
        if options.flag("--help") || options.flag("-h") {
            return .help
        }
        let command: LabCommand
        switch name {
        case "start":
            let ports = PortChoice(
                pop3: try options.port("--pop3"), pop3s: try options.port("--pop3s"),
                imap: try options.port("--imap"), imaps: try options.port("--imaps"),
                lmtp: try options.port("--lmtp"))
            let users = try options.value("--users").map(parseUsers) ?? [:]
            command = .start(root: options.value("--root").map(directory), users: users, ports: ports)
        case "stop":
            command = .stop(root: directory(try options.required("--root")))
        case "seed":
            let root = directory(try options.required("--root"))
            let user = try options.required("--user")
            let count = try options.number("--count", required: true)!
            let seed = try options.value("--seed").map { text -> UInt64 in
                guard let seed = UInt64(text) else { throw UsageError(message: "--seed wants a number, got \(text)") }
                return seed
            }
            command = .seed(
                root: root, user: user, count: count, seed: seed ?? 1, bigAttachment: options.flag("--big"),
                domain: options.value("--domain") ?? "example.com", seen: options.flag("--seen"))
        case "demo":
            command = .demo(
                workspace: directory(
                    options.value("--workspace")
                        ?? FileManager.default.currentDirectoryPath),
                keep: options.flag("--keep"))
        default:
            throw UsageError(message: "unknown command \"\(name)\"")
        }
        try options.checkAllUsed()
        return command
    }

    private static func directory(_ path: String) -> URL {
        URL(fileURLWithPath: path, isDirectory: true)
    }

    /// "alice:secret,bob:pw" → ["alice": "secret", "bob": "pw"].
    private static func parseUsers(_ text: String) throws -> [String: String] {
        var users: [String: String] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw UsageError(message: "--users wants NAME:PASSWORD[,NAME:PASSWORD...], got \"\(entry)\"")
            }
            users[String(parts[0])] = String(parts[1])
        }
        return users
    }
}

/// `--name value` and `--flag` options; each may be used once, and any left over is an error.
private struct Options {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []

    private static let flagNames: Set<String> = ["--big", "--seen", "--keep", "--help", "-h"]

    init(_ arguments: [String]) throws {
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("-") else { throw LabCommand.UsageError(message: "unexpected argument \"\(name)\"") }
            guard values[name] == nil && !flags.contains(name) else {
                throw LabCommand.UsageError(message: "\(name) given twice")
            }
            if Self.flagNames.contains(name) {
                flags.insert(name)
                index += 1
            } else {
                guard index + 1 < arguments.count else {
                    throw LabCommand.UsageError(message: "\(name) needs a value")
                }
                values[name] = arguments[index + 1]
                index += 2
            }
        }
    }

    mutating func flag(_ name: String) -> Bool {
        used.insert(name)
        return flags.contains(name)
    }

    mutating func value(_ name: String) -> String? {
        used.insert(name)
        return values[name]
    }

    mutating func required(_ name: String) throws -> String {
        guard let value = value(name) else { throw LabCommand.UsageError(message: "missing \(name)") }
        return value
    }

    mutating func number(_ name: String, required: Bool = false) throws -> Int? {
        guard let text = required ? try self.required(name) : value(name) else { return nil }
        guard let number = Int(text), number >= 0 else {
            throw LabCommand.UsageError(message: "\(name) wants a non-negative number, got \"\(text)\"")
        }
        return number
    }

    mutating func port(_ name: String) throws -> Int? {
        guard let port = try number(name) else { return nil }
        guard (1...65535).contains(port) else {
            throw LabCommand.UsageError(message: "\(name) wants a port from 1 to 65535, got \(port)")
        }
        return port
    }

    func checkAllUsed() throws {
        let unknown = Set(values.keys).union(flags).subtracting(used)
        if let first = unknown.sorted().first {
            throw LabCommand.UsageError(message: "unknown option \(first)")
        }
    }
}
