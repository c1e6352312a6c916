import Foundation
import MailFerryLab

// mailferry-lab: start, stop and seed a private Dovecot for tests and demos. Thin on purpose: parsing lives in
// LabCommand, everything else in MailFerryLab.

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Fills the ports not given on the command line with free ones, distinct from the given ones.
func resolve(_ choice: LabCommand.PortChoice) throws -> LabPorts? {
    guard !choice.isEmpty else { return nil }
    let given = Set([choice.pop3, choice.pop3s, choice.imap, choice.imaps, choice.lmtp].compactMap { $0 })
    var free = try LabPorts.free()
    while !given.isDisjoint(with: free.named.map(\.port)) {
        free = try LabPorts.free()
    }
    return LabPorts(
        pop3: choice.pop3 ?? free.pop3, pop3s: choice.pop3s ?? free.pop3s, imap: choice.imap ?? free.imap,
        imaps: choice.imaps ?? free.imaps, lmtp: choice.lmtp ?? free.lmtp)
}

func run(_ command: LabCommand) throws -> Int32 {
    switch command {
    case .help:
        print(LabCommand.usage)
    case .start(let root, let users, let choice):
        let lab = try DovecotLab.start(users: users, root: root, ports: try resolve(choice))
        lab.detach()
        print("root=\(lab.root.path)")
        print("pid=\(lab.masterPid.map(String.init) ?? "")")
        for (name, port) in lab.ports.named {
            print("\(name)=\(port)")
        }
        print("ca=\(lab.caFile.path)")
        print("log=\(lab.logFile.path)")
        print("master_user=\(DovecotLab.masterUser)")
        print("master_password=\(DovecotLab.masterPassword)")
        print("users=\(users.keys.sorted().joined(separator: ","))")
    case .stop(let root):
        let lab = try DovecotLab.attach(root: root)
        let wasRunning = lab.isRunning
        lab.stop()
        print("stopped=\(wasRunning ? "yes" : "no (was not running)")")
    case .seed(let root, let user, let count, let seed, let big, let domain, let seen):
        let lab = try DovecotLab.attach(root: root)
        let messages = Corpus.mailbox(user: user, domain: domain, count: count, seed: seed, bigAttachment: big)
        for name in try lab.seed(user: user, messages: messages, seen: seen) {
            print("file=\(name)")
        }
        print("maildir=\(lab.maildir(of: user).path)")
    case .demo(let workspace, let keep):
        return try Demo.run(workspace: workspace.path, keep: keep)
    }
    return 0
}

do {
    let command = try LabCommand.parse(Array(CommandLine.arguments.dropFirst()))
    exit(try run(command))
} catch let error as LabCommand.UsageError {
    printError("mailferry-lab: \(error.message)\n")
    printError(LabCommand.usage)
    exit(2)
} catch {
    printError("\(error)")
    exit(1)
}
