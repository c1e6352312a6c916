import Foundation
import MailFerry

/// mailferry-plan(5): every key of every object a plan may hold, from the plan reference (`PlanReference`), and the
/// columns of a CSV list.
extension ManPage {
    static func plan() -> String {
        var out = header("mailferry-plan", section: 5, title: "File Formats")
        out += [
            ".SH NAME",
            "mailferry-plan \\- the plan file of mailferry: sources, targets, mailboxes, CSV lists of people",
            ".SH DESCRIPTION",
        ]
        out += fromHelp(planDescription)
        for object in PlanReference.objects {
            out += [".SH \(escape(object.title.uppercased()))", ".PP", escape(object.summary)]
            if !object.path.isEmpty { out += [".PP", "Where: \\fI\(escape(object.path))\\fR"] }
            for key in object.keys {
                out += [
                    ".TP",
                    "\(bold(key.name)) (\(escape(key.type)); "
                        + (key.defaultValue == "required" ? "required)" : "default: \(escape(key.defaultValue)))"),
                    escape(key.meaning),
                ]
            }
        }
        out += [
            ".SH CSV COLUMNS", ".PP",
            escape(
                "The first row of a CSV list names its columns, in any order and case; quoted fields, CRLF or LF, "
                    + "a UTF-8 byte order mark and ; as the separator are understood; blank lines and lines "
                    + "starting with # are skipped."),
        ]
        for column in PlanReference.csvColumns {
            let aliases = column.aliases.isEmpty ? "" : " (or " + column.aliases.joined(separator: ", ") + ")"
            out += [
                ".TP", "\(bold(column.name))\(escape(aliases)) (default: \(escape(column.defaultValue)))",
                escape(column.meaning),
            ]
        }
        out += [".SH EXAMPLE", ".nf"] + planExample.split(separator: "\n").map { escape(String($0)) } + [".fi"]
        out += [
            ".SH SEE ALSO",
            "\\fBmailferry\\fR(1); docs/plan.md in the source, /usr/share/doc/mailferry/examples/",
        ]
        return out.joined(separator: "\n")
    }

    static let planDescription = """
        A plan is one JSON5 file that describes a migration: where the legacy mail is (sources), where it goes \
        (targets), and whose mail it is (mailboxes, or CSV lists of people). Comments, trailing commas, unquoted \
        keys, single quotes and hexadecimal numbers are fine (at most 16 MiB and 64 levels deep). mailferry init \
        writes a commented example; mailferry check validates one and names every problem with FILE:LINE:COL.

        Relative paths in a plan and its CSV lists are resolved against its workspace: the folder that holds jobs/ \
        when the plan is in a jobs/ folder, else the plan's own folder. A plan in /etc/mailferry (for the systemd \
        unit) sets state and reports to absolute paths under /var/lib/mailferry.

        Unknown keys are problems (with a suggestion for a misspelt one), and so are keys that mean nothing for a \
        target's kind. Placeholders: {mailbox}, {user}, {local} and {domain} in a Maildir path and in IMAP \
        authorize; {user} in a mailbox template; {local} and {domain} in a catch-all's rewrite.
        """

    static let planExample = """
        {
          plan: "wingtip",
          state: "/var/lib/mailferry/state/wingtip.sqlite",
          reports: "/var/lib/mailferry/reports/wingtip",
          sources: { isp: { host: "pop.wingtip-isp.example" } },
          targets: { archive: { kind: "maildir", path: "/srv/mail/{mailbox}" } },
          defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },
          mailboxes: [
            { user: "chris", password: { env: "WT_CHRIS" } },
            { user: "kelly", password: { file: "secrets/kelly" } },
          ],
          mailboxList: { csv: "wingtip-people.csv" },
        }
        """
}
