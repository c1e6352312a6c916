import Foundation
import Glibc
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry init [PATH]`: a commented example plan and its CSV list, which pass validation as written.
enum InitCommand {
    static let defaultPath = "jobs/example.json5"

    static func main(_ arguments: [String], console: Console) -> Int32 {
        var path: String?
        for argument in arguments {
            if argument.hasPrefix("-") {
                console.error(
                    "mailferry init: unknown option \(sanitizeForDisplay(argument))\n"
                        + "Run mailferry init --help for usage.")
                return ExitCode.usage
            }
            guard path == nil else {
                console.error(
                    "mailferry init: one path at a time (got \(sanitizeForDisplay(argument)) too)\n"
                        + "Run mailferry init --help for usage.")
                return ExitCode.usage
            }
            path = argument
        }
        let files = paths(for: path ?? defaultPath)
        let name = planName(for: files.plan)
        // The CSV path as the plan must write it: relative to the workspace, like every path in a plan.
        let workspace = PlanLoader.workspace(for: files.plan)
        let csvAbsolute = URL(fileURLWithPath: files.csv).standardizedFileURL.path
        let csvInPlan =
            csvAbsolute.hasPrefix(workspace + "/")
            ? String(csvAbsolute.dropFirst(workspace.count + 1))
            : csvAbsolute
        for file in [files.plan, files.csv] where FileManager.default.fileExists(atPath: file) {
            console.error("mailferry init: \(file) exists already; not overwriting it (give another PATH)")
            return ExitCode.usage
        }
        do {
            let folder = (files.plan as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            try create(files.plan, examplePlan(name: name, csv: csvInPlan, planPath: files.plan))
            do {
                try create(files.csv, exampleCSV(name: name))
            } catch {
                unlink(files.plan)
                throw error
            }
        } catch {
            console.error("mailferry init: \(ErrorText.sentence(error))")
            return ExitCode.usage
        }
        console.line(
            """
            wrote \(files.plan) (the plan) and \(files.csv) (its list of people)
            next: edit both, then run: mailferry check \(files.plan)
            """)
        return ExitCode.ok
    }

    /// The plan file and its CSV beside it: `jobs/x.json5` → `jobs/x-people.csv`. A folder gets example.json5.
    static func paths(for requested: String) -> (plan: String, csv: String) {
        var plan = requested
        var info = stat()
        if requested.hasSuffix("/") || (stat(requested, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR) {
            plan = (requested.hasSuffix("/") ? requested : requested + "/") + "example.json5"
        } else if !plan.hasSuffix(".json5") && !plan.hasSuffix(".json") {
            plan += ".json5"
        }
        let base = plan.hasSuffix(".json5") ? String(plan.dropLast(6)) : String(plan.dropLast(5))
        return (plan, base + "-people.csv")
    }

    /// The file's base name, kept to the characters a plan name may have.
    static func planName(for plan: String) -> String {
        let base = ((plan as NSString).lastPathComponent as NSString).deletingPathExtension
        let cleaned = String(base.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
        return cleaned.isEmpty ? "example" : cleaned
    }

    /// O_EXCL: never replaces a file, even one that appeared a moment ago. 0640: the plan and its list name people.
    static func create(_ path: String, _ text: String) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw UsageError("cannot create \(path): \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                retryingEINTR { write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            }
            guard n > 0 else { throw UsageError("cannot write \(path): \(errnoText())") }
            offset += n
        }
    }

    static func examplePlan(name: String, csv: String, planPath: String) -> String {
        #"""
        // mailferry plan "\#(name)", written by `mailferry init`. Edit it, then run: mailferry check \#(planPath)
        //
        // JSON5: comments like this one, trailing commas and unquoted keys are fine.
        // Relative paths are resolved against the workspace: the folder that holds jobs/ (or this file's own folder
        // when it is not in a jobs/ folder), wherever mailferry is started from.
        {
          plan: "\#(name)",                       // names the state file and the report folder; keep it stable
          transition: { start: "2026-11-01", cutover: "2026-12-15", end: "2027-02-01" },   // YYYY-MM-DD, optional
          // state: "state/\#(name).sqlite",      // the default: the checkpoint database; keep it all along
          // reports: "reports/\#(name)",         // the default: a JSON and a Markdown report per run
          // keepReports: 1000,                   // the default: reports of the newest 1000 runs are kept (0: all)
          // metricsFile: "/var/lib/prometheus/node-exporter/\#(name).prom",   // metrics after each run
          parallel: 4,                            // mailboxes at once (--parallel overrides)
          // quarantineAfter: 5,                  // failures before a message is set aside (it stays on the server)

          // The legacy POP3 servers.
          sources: {
            isp: {
              host: "pop.wingtip-isp.example",
              port: 995,                          // default: 995 with tls "implicit", else 110
              tls: "implicit",                    // "implicit" (POP3S) | "starttls" (STLS, then mandatory) | "none"
              // caFile: "certs/isp-ca.pem",      // trust this CA (PEM) instead of the system's
              // allowPlaintext: true,            // required with tls: "none"; passwords then cross the net in clear
              maxConnections: 4,                  // sessions to this server at once
              timeoutSeconds: 60,                 // connect, and each read or write
              // auth: ["cram-md5", "apop", "plain", "login", "user"],   // login methods allowed (default: all)
              // withoutUIDL: "header-fingerprint",   // for a server without UIDL (default: "refuse")
              // allowExpireZero: true,           // accept a server that deletes what is retrieved (EXPIRE 0)
              // pipelining: false,               // do not send RETRs ahead even if the server allows it
              // onUIDLReset: "rekey",            // go on when the server seems to have renumbered (default: "stop")
              // deleteFromSourceAfterDays: 60,   // retention: DELE what was delivered that long ago (default: never)
              // maxMessageBytes: 200000000,   // refuse (and leave on the server) larger messages (default: 4 GiB)
            },
          },

          // Where the mail goes: "maildir", "imap" (APPEND, acting for each mailbox), "lmtp" or "smtp".
          targets: {
            archive: { kind: "maildir", path: "mail/{mailbox}" },   // placeholders: {mailbox} {user} {local} {domain}
            // contoso: { kind: "imap", host: "mail.contoso.example", port: 993, tls: "implicit",
            //            user: "migration-admin", password: { env: "CONTOSO_ADMIN_PW" },
            //            authorize: "{mailbox}", folder: "INBOX", flags: ["\\Seen"] },
            //            // acting: "master",       // Dovecot's master-user login "mailbox*admin" (default: "authzid")
            //            // provenanceHeader: true, // add X-MailFerry-Delivery, so a crashed APPEND is found exactly
            // relay: { kind: "lmtp", host: "127.0.0.1", port: 24 },   // or socket: "/run/dovecot/lmtp"
            // smarthost: { kind: "smtp", host: "smtp.contoso.example", port: 587, tls: "starttls",
            //              user: "migration", password: { env: "SMTP_PW" }, from: "migration@contoso.example" },
            //              // envelopeFrom: "original", // MAIL FROM the recovered sender: a relay's bounce goes
            //              //   // to it, outside (default "plan": always from; the default for lmtp is "original")
          },

          // What every mailbox inherits unless it says otherwise. mailbox: the address at the target.
          defaults: { source: "isp", target: "archive", mailbox: "{user}@contoso.example" },

          // People written here. A password is never written in the plan: { env: "NAME" }, { file: "secrets/x" }
          // (chmod 600) or { command: ["program", "arg"] } (its output, within 30 s).
          mailboxes: [
            { user: "chris", password: { env: "WT_CHRIS" } },
            // A catch-all mailbox for a whole domain: each message goes to its recipients, recovered from the
            // trace headers (rules first, then domains with rewrite, else fallback):
            // { user: "everyone", password: { file: "secrets/everyone" }, mailbox: "everyone@contoso.example",
            //   global: { domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
            //             trustedHosts: ["mx1.wingtip-isp.example"],
            //             rules: [ { match: "list@treyresearch.net", mailbox: "kelly@contoso.example" } ],
            //             fallback: "postmaster@contoso.example" } },
          ],

          // Many people at once: a CSV list with the columns mailbox,user,password (and optionally token, source,
          // target). source, target and mailbox may also be given here for the whole list.
          mailboxList: { csv: "\#(csv)" },
        }

        """#
    }

    static func exampleCSV(name: String) -> String {
        """
        # People of the plan "\(name)", one legacy mailbox per row. Lines starting with # are comments.
        # password says where the password is: env:VARIABLE or file:PATH (chmod 600), never the password itself.
        # Optional columns: token (instead of password), source and target (instead of the plan's).
        mailbox,user,password
        kelly@contoso.example,kelly,env:WT_KELLY
        sam@contoso.example,sam,file:secrets/sam

        """
    }
}
