import Foundation
import MailCore

/// The mailboxes of the plan reference: a mailbox, a catch-all's routing, defaults, CSV lists and secrets.
extension PlanReference {
    static let mailbox = PlanObject(
        path: "mailboxes[N]", title: "Mailbox",
        summary: "One legacy POP3 mailbox and where its mail goes.",
        keys: [
            PlanKey("source", "source name", "defaults' source", "The legacy server."),
            PlanKey("user", "string", "required", "The POP3 login."),
            PlanKey("password", "secret", "none", "The POP3 password (see SECRETS); never inherited."),
            PlanKey("token", "secret", "none", "An OAuth token instead of a password; never both."),
            PlanKey("target", "target name", "defaults' target", "Where the mail goes."),
            PlanKey(
                "mailbox", "string", "defaults' mailbox template, else user",
                "The address or folder name at the target."),
            PlanKey(
                "global", "object", "none",
                "Makes this a catch-all mailbox whose mail is routed per recipient (see GLOBAL)."),
        ])

    static let global = PlanObject(
        path: "mailboxes[N].global", title: "Global",
        summary: "A catch-all mailbox: each recipient recovered from the trace headers is routed: rules first, then "
            + "aliases, then domains with rewrite, else fallback. Nothing is dropped.",
        keys: [
            PlanKey("domains", "array of strings", "required", "The legacy domains this mailbox catches."),
            PlanKey(
                "rewrite", "string with {local} and {domain}", "none",
                "The new address of a recipient at one of the domains, e.g. \"{local}@contoso.example\"."),
            PlanKey(
                "trustedHosts", "array of strings", "none",
                "The provider's receiving hosts: only headers at or above their topmost Received count; without "
                    + "them every recovered value is marked guessed."),
            PlanKey(
                "rules", "array of { match, mailbox }", "none",
                "Tried first, first match wins: an address, @domain, a header match \"Name: text\" or /regex/."),
            PlanKey(
                "aliases", "object", "none",
                "A legacy address, or a local part at any of the domains -> an address, or a local part that "
                    + "rewrite completes."),
            PlanKey(
                "fallback", "address", "the mailbox's own address",
                "Where mail goes that nothing else places."),
            PlanKey(
                "qmailPrefix", "\"domain\" or array of strings", "none",
                "Read qmail's virtual-domain form of Delivered-To: remove <domain>-, or the first listed prefix."),
            PlanKey(
                "reasonHeader", "boolean", "false",
                "The copy delivered to the fallback starts with X-MailFerry-Routing: fallback; <why>."),
        ])

    static let rule = PlanObject(
        path: "mailboxes[N].global.rules[N]", title: "Rule",
        summary: "One routing rule of a catch-all mailbox.",
        keys: [
            PlanKey("match", "string", "required", "An address, @domain, \"Name: text\" (a header) or /regex/."),
            PlanKey("mailbox", "address", "required", "Where a matching recipient's mail goes."),
        ])

    static let defaults = PlanObject(
        path: "defaults", title: "Defaults",
        summary: "What a mailbox inherits when it does not say: its own value, else its list's, else these. "
            + "Secrets are never inherited.",
        keys: [
            PlanKey("source", "source name", "none", "The source of mailboxes that name none."),
            PlanKey("target", "target name", "none", "The target of mailboxes that name none."),
            PlanKey("mailbox", "string with {user}", "none", "The address template, e.g. \"{user}@contoso.example\"."),
        ])

    static let mailboxList = PlanObject(
        path: "mailboxList", title: "Mailbox list",
        summary: "People imported in bulk from a CSV list (see CSV COLUMNS).",
        keys: [
            PlanKey("csv", "path", "required", "The CSV file."),
            PlanKey("source", "source name", "defaults' source", "The source of its people."),
            PlanKey("target", "target name", "defaults' target", "The target of its people."),
            PlanKey("mailbox", "string with {user}", "defaults' mailbox", "The address template of its people."),
        ])

    static let secret = PlanObject(
        path: "password, token", title: "Secret",
        summary: "Where a secret is; never the secret itself. Exactly one of env, file and command.",
        keys: [
            PlanKey("env", "string", "none", "An environment variable's name (in a command entry: names passed on)."),
            PlanKey("file", "path", "none", "A private file (refused when group or others can read it)."),
            PlanKey(
                "command", "array of strings", "none",
                "A program and its arguments; its standard output within 30 s, at most 64 KiB."),
        ])

    /// The columns of a CSV list: the first row names them, in any order and case.
    package static let csvColumns = [
        CSVColumn("user", aliases: ["UserName", "login"], "required", "The POP3 login."),
        CSVColumn("password", "none", "Where the secret is: env:NAME or file:PATH; never the password itself."),
        CSVColumn("token", "none", "Where an OAuth token is: env:NAME or file:PATH."),
        CSVColumn(
            "mailbox", aliases: ["EmailAddress", "email", "address"],
            "the list's or defaults' template, else the user", "The address at the target."),
        CSVColumn("source", "the list's", "Overrides the list's source."),
        CSVColumn("target", "the list's", "Overrides the list's target."),
    ]
}

/// A column of a CSV list of people, with the other names a header may give it (any case).
package struct CSVColumn: Sendable {
    package let name: String
    package let aliases: [String]
    package let defaultValue: String
    package let meaning: String

    init(_ name: String, aliases: [String] = [], _ defaultValue: String, _ meaning: String) {
        self.name = name
        self.aliases = aliases
        self.defaultValue = defaultValue
        self.meaning = meaning
    }
}
