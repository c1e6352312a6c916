import Foundation
import MailFerry

/// mailferry(1): the synopsis and the commands from the top-level help, each command's own `--help` in full, the
/// exit codes, and what only a manual carries (environment, files, examples).
extension ManPage {
    /// The commands in the order the manual describes them.
    static let commandOrder = ["run", "check", "status", "verify", "backup", "route", "adopt", "init"]

    static func mailferry() -> String {
        var out = header("mailferry", section: 1, title: "User Commands")
        out += [
            ".SH NAME",
            "mailferry \\- migrate legacy POP3 mailboxes into Maildir, IMAP, LMTP or SMTP targets, exactly once",
            ".SH SYNOPSIS", ".nf",
        ]
        let entries = topEntries()
        for entry in entries { out += entry.synopsis.map { escape($0) } }
        out += [".fi", ".SH DESCRIPTION"]
        out += fromHelp(description)
        out.append(".SH COMMANDS")
        for command in commandOrder {
            guard let text = HelpText.forCommand(command) else { continue }
            out += [".SS \(bold(command))"] + fromHelp(text)
        }
        for entry in entries where entry.name == "help" || entry.name == "--version" {
            out += [".SS \(bold(entry.name))", ".PP", ".nf"] + entry.synopsis.map { escape($0) } + [".fi"]
            out += fromHelp(entry.text.joined(separator: "\n"))
        }
        out.append(".SH EXIT STATUS")
        out += fromHelp(HelpText.exitCodes.split(separator: "\n").dropFirst().joined(separator: "\n"))
        out.append(manOnly)
        return out.joined(separator: "\n")
    }

    /// The top-level help's `Usage:` entries: `mailferry run PLAN [...]` with its continuation lines, and the
    /// text below them.
    static func topEntries() -> [(name: String, synopsis: [String], text: [String])] {
        guard let usage = HelpText.top.components(separatedBy: "\n\n").first(where: { $0.hasPrefix("Usage:") })
        else { return [] }
        var entries: [(name: String, synopsis: [String], text: [String])] = []
        for line in usage.split(separator: "\n").dropFirst().map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("mailferry ") {
                let name = trimmed.split(separator: " ")[1]
                entries.append((String(name), [trimmed.components(separatedBy: "  ")[0]], []))
            } else if trimmed.hasPrefix("["), !entries.isEmpty {
                entries[entries.count - 1].synopsis.append("    " + trimmed)
            } else if !entries.isEmpty {
                entries[entries.count - 1].text.append(trimmed)
            }
        }
        return entries
    }

    /// The top-level help's first line and closing line, as the manual's description.
    static var description: String {
        let blocks = HelpText.top.components(separatedBy: "\n\n")
        let first = blocks.first.map { $0.replacingOccurrences(of: "mailferry \(MailFerryCLI.version): ", with: "") }
        return [first, blocks.last].compactMap { $0.map(capitalizedFirst) }.joined(separator: "\n\n")
    }

    private static func capitalizedFirst(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    /// What only the manual says: where things are, the environment, examples.
    static let manOnly = """
        .SH ENVIRONMENT
        .TP
        \\fBNO_COLOR\\fR
        Set and not empty: the live view of run has no colour.
        .TP
        \\fBTERM\\fR, \\fBCOLUMNS\\fR
        TERM=dumb turns the live view off; COLUMNS is the width check fits its table to on a terminal.
        .TP
        The plan's variables
        A secret written { env: "NAME" } (or env:NAME in a CSV list) is read from the variable NAME. A secret \
        command sees only PATH, HOME, LANG, LC_ALL, TZ and the variables its entry names.
        .SH FILES
        .TP
        \\fIjobs/PLAN.json5\\fR
        A plan (see \\fBmailferry-plan\\fR(5)); relative paths in it are resolved against the folder that holds \
        jobs/, its workspace.
        .TP
        \\fIstate/PLAN.sqlite\\fR, \\fIstate/PLAN.sqlite.lock\\fR
        The state database (every message's checkpoint) and the lock a run holds; back it up with mailferry backup.
        .TP
        \\fIreports/PLAN/\\fR
        A JSON and a Markdown report per run, and the dashboard index.html.
        .TP
        \\fI/etc/mailferry/NAME.json5\\fR
        The plan the systemd unit mailferry@NAME.service runs, as the user mailferry, with the variables of \
        \\fI/etc/mailferry/NAME.env\\fR (its secrets, when there is one); the plan puts its state and reports \
        under \\fI/var/lib/mailferry\\fR.
        .TP
        \\fI/usr/share/doc/mailferry/examples/\\fR
        An example plan and its CSV list of people, as mailferry init writes them.
        .SH EXAMPLES
        .nf
        mailferry init jobs/wingtip
        mailferry check jobs/wingtip.json5
        mailferry run jobs/wingtip.json5
        mailferry status jobs/wingtip.json5
        .fi
        .PP
        Every 10 minutes from cron (a second run while one is still going exits at once with 75):
        .PP
        .nf
        */10 * * * *  cd /srv/mailferry && mailferry run jobs/wingtip.json5 \\-\\-quiet
        .fi
        .PP
        Or with the systemd timer, for the plan /etc/mailferry/wingtip.json5:
        .PP
        .nf
        systemctl enable \\-\\-now mailferry@wingtip.timer
        .fi
        .SH SEE ALSO
        \\fBmailferry-plan\\fR(5), \\fBcrontab\\fR(5), \\fBsystemd.timer\\fR(5)
        """
}
