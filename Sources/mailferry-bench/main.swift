import Foundation
import Glibc
import MailCore
import MailFerry
import MailFerryLab
import MailStore
import MailSystem
import MailWire
import Synchronization

// mailferry-bench: mailferry against fetchmail, getmail6 and a raw pipelined RETR ceiling, on one private Dovecot,
// in one run. Not a test: it prints numbers. `scripts/bench` installs the peers, builds in release mode and runs it.

struct Options {
    var mailboxes = 20
    var messages = 1000
    var parallel = 8
    var hugeMiB = 100
    var tools: Set<String> = Options.allTools
    static let allTools: Set<String> = ["ceiling", "maildir", "imap", "fetchmail", "getmail", "huge"]
    var keep = false
    var mailferry = ""
    /// `--state-rows`: only measure status and the dashboard refresh over state databases of these sizes.
    var stateRows: [Int] = []
    /// `--write-state FILE`: only write a state database of `--rows` rows there (for measuring the state checks).
    var writeState: String?
    var rows = 1_000_000
    /// `--envelope-only N`: only time envelope recovery of N corpus messages in this process (EnvelopeOnly.swift).
    var envelopeOnly = 0

    static let usage = """
        usage: mailferry-bench [--mailboxes N] [--messages M] [--parallel P] [--huge-mib S] [--only LIST] [--keep]
                               --mailferry PATH
          --mailboxes N  POP3 mailboxes seeded (default 20)
          --messages M   messages per mailbox (default 1000; every 50th has a ~3 MiB attachment)
          --parallel P   mailboxes at once for mailferry and the ceiling (default 8)
          --huge-mib S   one more mailbox holding an S MiB message, for peak memory (default 100; 0: none)
          --only LIST    run only these of ceiling,maildir,imap,fetchmail,getmail,huge (default: all)
          --keep         keep the lab and every tool's output (printed at the end)
          --state-rows N,...  instead: time and peak RSS of mailferry status and of the dashboard refresh over a
                         state database of N message rows in --mailboxes mailboxes (no lab, no peers)
          --envelope-only N  instead: µs per message of envelope recovery over N corpus messages, in this process
          --write-state FILE [--rows N]  instead: write a state database of N message rows (default 1000000) in
                         --mailboxes mailboxes to FILE, as --state-rows seeds it (docs/operations.md); nothing else
        """

    init(_ arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        func number(_ name: String) throws -> Int {
            guard let text = iterator.next(), let value = Int(text), value >= 0 else {
                throw BenchError("\(name) wants a number\n\(Options.usage)")
            }
            return value
        }
        while let argument = iterator.next() {
            switch argument {
            case "--mailboxes": mailboxes = max(1, try number(argument))
            case "--messages": messages = max(1, try number(argument))
            case "--parallel": parallel = max(1, try number(argument))
            case "--huge-mib": hugeMiB = try number(argument)
            case "--only":
                tools = Set((iterator.next() ?? "").split(separator: ",").map(String.init))
                guard !tools.isEmpty, tools.isSubset(of: Options.allTools) else {
                    throw BenchError("--only wants some of \(Options.allTools.sorted().joined(separator: ","))")
                }
            case "--keep": keep = true
            case "--state-rows":
                stateRows = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
                guard !stateRows.isEmpty else { throw BenchError("--state-rows wants numbers: 20000,100000") }
            case "--mailferry": mailferry = iterator.next() ?? ""
            case "--envelope-only": envelopeOnly = max(1, try number(argument))
            case "--write-state": writeState = iterator.next()
            case "--rows": rows = max(1, try number(argument))
            default: throw BenchError("unknown argument \(argument)\n\(Options.usage)")
            }
        }
        guard envelopeOnly > 0 || writeState != nil || FileManager.default.isExecutableFile(atPath: mailferry) else {
            throw BenchError("--mailferry PATH: the release mailferry binary (scripts/bench passes it)")
        }
    }
}

struct Row {
    var tool: String
    var run: String
    var messages: Int
    var bytes: Int
    var seconds: Double
    var rssKiB: Int?
    var verdict: String
}

func log(_ text: String) {
    FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
}

func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for folder in path + ["/usr/bin", "/usr/local/bin"] {
        let path = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

func benchmark(_ options: Options) throws -> [Row] {
    var users: [String: String] = [:]
    for index in 1...options.mailboxes {
        users[String(format: "u%02d", index)] = "pw-\(index)-\(UInt32.random(in: 0...UInt32.max))"
    }
    var labUsers = users
    for user in users.keys {
        labUsers["\(user)-mf"] = "unused-\(UUID().uuidString.prefix(8))"
        labUsers["\(user)-fm"] = "unused-\(UUID().uuidString.prefix(8))"
    }
    if options.hugeMiB > 0 && options.tools.contains("huge") {
        labUsers["huge"] = "pw-huge-\(UInt32.random(in: 0...UInt32.max))"
    }
    let work = NSTemporaryDirectory() + "mailferry-bench-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let lab = try DovecotLab.start(users: labUsers)
    defer {
        if options.keep {
            lab.detach()
            log("kept: lab \(lab.root.path) (stop: mailferry-lab stop --root \(lab.root.path)), outputs \(work)")
        } else {
            lab.stop()
            try? FileManager.default.removeItem(atPath: work)
        }
    }
    let setup = Setup(lab: lab, work: work, users: users, mailferry: options.mailferry)

    log("seeding \(options.mailboxes) × \(options.messages) messages")
    var expected = Expected()
    for (index, user) in setup.sortedUsers.enumerated() {
        let messages = Corpus.benchMailbox(
            user: user, domain: "wingtip.example", count: options.messages,
            seed: UInt64(index + 1))
        for message in messages { expected.add(message) }
        try lab.seed(user: user, messages: messages)
    }
    log("seeded \(expected.count) messages, \(expected.bytes / 1_048_576) MiB as served")
    var rows: [Row] = []
    func row(_ tool: String, _ run: String, _ m: Measurement, _ verdict: Verdict, initial: Bool) -> Row {
        Row(
            tool: tool, run: run, messages: initial ? expected.count : 0, bytes: initial ? expected.bytes : 0,
            seconds: m.seconds, rssKiB: m.peakRSSKiB, verdict: verdict.text)
    }
    func require(_ m: Measurement, _ what: String, okay: Set<Int32> = [0]) throws {
        guard okay.contains(m.status) else {
            throw BenchError("\(what) exited \(m.status)\n\(m.stdout.suffix(2000))\n\(m.stderr.suffix(2000))")
        }
    }

    // The raw ceiling: same TLS, same parallelism, RETR pipelined 16 deep, bytes thrown away.
    if options.tools.contains("ceiling") {
        log("raw ceiling")
        let ceilingBytes = Mutex(0)
        let ceilingMessages = Mutex(0)
        let failures = Mutex<[String]>([])
        let queue = Mutex(setup.sortedUsers)
        let passwords = users
        let ceilingSeconds = Measure.inProcess {
            let threads = (0..<options.parallel).map { _ in
                Thread {
                    while let user = queue.withLock({ $0.popLast() }) {
                        do {
                            let (count, bytes) = try Ceiling.mailbox(
                                port: lab.ports.pop3s, caFile: lab.caFile.path,
                                user: user, password: passwords[user]!, depth: 16)
                            ceilingMessages.withLock { $0 += count }
                            ceilingBytes.withLock { $0 += bytes }
                        } catch {
                            failures.withLock { $0.append("\(user): \(error)") }
                        }
                    }
                }
            }
            for thread in threads { thread.start() }
            while !threads.allSatisfy(\.isFinished) { usleep(1_000) }
        }
        if let failure = failures.withLock({ $0.first }) { throw BenchError(failure) }
        let read = ceilingMessages.withLock { $0 }
        rows.append(
            Row(
                tool: "raw RETR ceiling (16 deep)", run: "initial", messages: read, bytes: expected.bytes,
                seconds: ceilingSeconds, rssKiB: nil,
                verdict: read == expected.count ? "\(read) read" : "\(read) of \(expected.count) read"))
    }

    // mailferry into Maildir, then into IMAP.
    for imap in [false, true] where options.tools.contains(imap ? "imap" : "maildir") {
        let name = imap ? "mailferry-imap" : "mailferry-maildir"
        let tool = imap ? "mailferry → IMAP" : "mailferry → Maildir"
        log(tool)
        let plan = try setup.mailferryPlan(name, users: setup.sortedUsers, imap: imap, parallel: options.parallel)
        let first = try Measure.run(options.mailferry, ["run", plan, "--quiet"])
        try require(first, tool)
        let dirs = imap ? setup.labMaildirs(suffix: "mf") : setup.mailferryMaildirs(name, users: setup.sortedUsers)
        let verdict = Verify.check(dirs, against: expected, form: imap ? .lf : .retr)
        rows.append(row(tool, "initial", first, verdict, initial: true))
        let again = try Measure.run(options.mailferry, ["run", plan, "--quiet"])
        try require(again, tool + " (again)")
        let still = Verify.files(in: dirs).count
        rows.append(row(tool, "nothing new", again, Verdict(), initial: false))
        rows[rows.count - 1].verdict = "\(still) files, none added"
    }

    if options.tools.contains("fetchmail") {
        if let fetchmail = which("fetchmail") {
            log("fetchmail")
            let (rc, home) = try setup.fetchmailConfig()
            let args = ["-f", rc, "-i", "\(home)/fetchids", "--pidfile", "\(home)/pid", "-N", "--nosyslog", "-s"]
            let first = try Measure.run(fetchmail, args, environment: ["HOME": home])
            try require(first, "fetchmail", okay: [0, 1])
            let verdict = Verify.check(setup.labMaildirs(suffix: "fm"), against: expected, form: .peer)
            rows.append(row("fetchmail → LMTP socket", "initial", first, verdict, initial: true))
            let again = try Measure.run(fetchmail, args, environment: ["HOME": home])
            try require(again, "fetchmail (again)", okay: [0, 1])
            rows.append(row("fetchmail → LMTP socket", "nothing new", again, Verdict(), initial: false))
            rows[rows.count - 1].verdict = "\(Verify.files(in: setup.labMaildirs(suffix: "fm")).count) files"
        } else {
            log("fetchmail not installed: skipped (scripts/bench installs it)")
        }
    }
    if options.tools.contains("getmail") {
        if let getmail = which("getmail") {
            log("getmail6")
            let (rcs, dir) = try setup.getmailConfig()
            let args = ["--getmaildir", dir, "--quiet"] + rcs.flatMap { ["--rcfile", $0] }
            let first = try Measure.run(getmail, args)
            try require(first, "getmail")
            let verdict = Verify.check(setup.getmailMaildirs(), against: expected, form: .peer)
            rows.append(row("getmail6 → Maildir", "initial", first, verdict, initial: true))
            let again = try Measure.run(getmail, args)
            try require(again, "getmail (again)")
            rows.append(row("getmail6 → Maildir", "nothing new", again, Verdict(), initial: false))
            rows[rows.count - 1].verdict = "\(Verify.files(in: setup.getmailMaildirs()).count) files"
        } else {
            log("getmail not installed: skipped (scripts/bench installs it)")
        }
    }

    if options.hugeMiB > 0 && options.tools.contains("huge") {
        log("one mailbox with a \(options.hugeMiB) MiB message")
        var huge = Expected()
        // The attachment is base64 (4/3 of its raw size): aim at the message size asked for.
        var messages = Corpus.benchMailbox(user: "huge", domain: "wingtip.example", count: 20, seed: 99)
        messages.insert(
            Corpus.hugeMessage(
                user: "huge", domain: "wingtip.example",
                attachmentBytes: options.hugeMiB * 1_048_576 * 3 / 4), at: 10)
        for message in messages { huge.add(message) }
        try lab.seed(user: "huge", messages: messages)
        messages = []
        let hugeSetup = Setup(lab: lab, work: work, users: ["huge": labUsers["huge"]!], mailferry: options.mailferry)
        let plan = try hugeSetup.mailferryPlan("mailferry-huge", users: ["huge"], imap: false, parallel: 1)
        let run = try Measure.run(options.mailferry, ["run", plan, "--quiet"])
        try require(run, "mailferry (huge)")
        let verdict = Verify.check(
            hugeSetup.mailferryMaildirs("mailferry-huge", users: ["huge"]), against: huge,
            form: .retr)
        rows.append(
            Row(
                tool: "mailferry → Maildir, \(options.hugeMiB) MiB message", run: "initial",
                messages: huge.count, bytes: huge.bytes, seconds: run.seconds, rssKiB: run.peakRSSKiB,
                verdict: verdict.text))
    }
    return rows
}

func table(_ rows: [Row], options: Options) -> String {
    func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let space = String(repeating: " ", count: width - count)
        return right ? space + text : text + space
    }
    var out =
        "mailferry-bench: \(options.mailboxes) mailboxes × \(options.messages) messages over POP3S (Dovecot "
        + "on 127.0.0.1), parallel \(options.parallel); load before: \(loadAverage())\n\n"
    let header = [
        pad("tool", 40), pad("run", 12), pad("msgs", 6, right: true), pad("seconds", 8, right: true),
        pad("msg/s", 7, right: true), pad("MB/s", 7, right: true), pad("peak RSS", 9, right: true),
        "  output",
    ]
    out += header.joined(separator: " ") + "\n"
    for row in rows {
        let rate = row.messages > 0 ? String(format: "%.0f", Double(row.messages) / row.seconds) : "–"
        let mbps = row.bytes > 0 ? String(format: "%.1f", Double(row.bytes) / 1_000_000 / row.seconds) : "–"
        let rss = row.rssKiB.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "–"
        out +=
            [
                pad(row.tool, 40), pad(row.run, 12), pad("\(row.messages)", 6, right: true),
                pad(String(format: "%.2f", row.seconds), 8, right: true), pad(rate, 7, right: true),
                pad(mbps, 7, right: true), pad(rss, 9, right: true), "  " + row.verdict,
            ].joined(separator: " ") + "\n"
    }
    func find(_ prefix: String, _ run: String) -> Row? {
        rows.first { $0.tool.hasPrefix(prefix) && $0.run == run }
    }
    out += "\nratios (messages/s for the initial run, seconds for the run with nothing new):\n"
    let ceiling = find("raw RETR", "initial")
    for tool in ["mailferry → Maildir", "mailferry → IMAP"] {
        guard let mine = rows.first(where: { $0.tool == tool && $0.run == "initial" }) else { continue }
        var parts: [String] = []
        let rate = Double(mine.messages) / mine.seconds
        if let ceiling {
            parts.append(
                String(format: "%.0f%% of the raw ceiling", 100 * rate / (Double(ceiling.messages) / ceiling.seconds)))
        }
        for peer in ["fetchmail", "getmail6"] {
            if let other = find(peer, "initial") {
                parts.append(String(format: "%.1f× %@", rate / (Double(other.messages) / other.seconds), peer))
            }
        }
        if let idle = rows.first(where: { $0.tool == tool && $0.run == "nothing new" }) {
            for peer in ["fetchmail", "getmail6"] {
                if let other = find(peer, "nothing new") {
                    parts.append(
                        String(
                            format: "nothing new in %.2f s vs %@ %.2f s (%.1f× faster)", idle.seconds,
                            peer, other.seconds, other.seconds / idle.seconds))
                }
            }
        }
        out += "  \(tool): " + parts.joined(separator: "; ") + "\n"
    }
    return out
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
        .joined(separator: " ") ?? "?"
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let load = loadAverage()
    if let file = options.writeState {
        guard !FileManager.default.fileExists(atPath: file) else { throw BenchError("\(file) exists; not replaced") }
        let started = Date()
        try StateRows.seed(statePath: file, rows: options.rows, mailboxes: options.mailboxes)
        print(
            "mailferry-bench: \(options.rows) rows in \(options.mailboxes) mailboxes written to \(file) in "
                + String(format: "%.1f s", Date().timeIntervalSince(started)))
        exit(0)
    } else if options.envelopeOnly > 0 {
        print(EnvelopeOnly.measure(messages: options.envelopeOnly))
    } else if !options.stateRows.isEmpty {
        let rows = try options.stateRows.flatMap {
            try StateRows.measure(rows: $0, mailboxes: options.mailboxes, mailferry: options.mailferry)
        }
        // The lab's table without its title and ratios.
        let body = table(rows, options: options).components(separatedBy: "\nratios")[0].drop { $0 != "\n" }
        print(
            "mailferry-bench: status and the dashboard refresh over a state database, \(options.mailboxes) "
                + "mailboxes; load before: \(load)\n" + body, terminator: "\n")
    } else {
        let rows = try benchmark(options)
        print(table(rows, options: options), terminator: "")
    }
    print(
        "load average before / after: \(load) / \(loadAverage()); \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
} catch {
    FileHandle.standardError.write(Data("mailferry-bench: \(error)\n".utf8))
    exit(1)
}
