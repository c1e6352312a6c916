import Foundation
import MailFerryLab
import Testing

@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport

/// The manual pages cannot drift from what the program knows: every plan key the validator accepts is in
/// mailferry-plan(5) (and nothing it refuses), every option `--help` shows is in mailferry(1), and both render
/// without a warning from man (scripts/package installs exactly this output).
@Suite struct ManPageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The validator's lists of allowed keys, by the title of the reference object that must list the same keys.
    static let validatorKeys: [String: [String]] = [
        "Top level": PlanValidator.topKeys,
        "Transition": PlanValidator.transitionKeys,
        "Source": PlanValidator.sourceKeys,
        "Target: maildir": PlanValidator.maildirKeys,
        "Target: imap": PlanValidator.imapKeys,
        "Target: lmtp": PlanValidator.lmtpKeys,
        "Target: smtp": PlanValidator.smtpKeys,
        "Mailbox": PlanValidator.mailboxKeys,
        "Global": PlanValidator.globalKeys,
        "Rule": PlanValidator.ruleKeys,
        "Defaults": PlanValidator.defaultsKeys,
        "Mailbox list": PlanValidator.mailboxListKeys,
    ]

    /// The troff source with hyphens as typed, cut into its sections (`.SH` or `.SS`) by title.
    static func sections(_ page: String, at macro: String) -> [String: String] {
        var out: [String: String] = [:]
        let plain = page.replacingOccurrences(of: "\\-", with: "-")
        for part in plain.components(separatedBy: "\n\(macro) ").dropFirst() {
            let title = String(part.prefix { $0 != "\n" })
                .replacingOccurrences(of: "\\fB", with: "").replacingOccurrences(of: "\\fR", with: "")
            out[title] = part
        }
        return out
    }

    @Test func everyKeyTheValidatorKnowsIsInThePlanReferenceAndNoOther() {
        let objects = Dictionary(uniqueKeysWithValues: PlanReference.objects.map { ($0.title, $0) })
        #expect(Set(objects.keys).isSuperset(of: Self.validatorKeys.keys))
        for (title, allowed) in Self.validatorKeys {
            let described = objects[title]?.keys.map(\.name) ?? []
            #expect(Set(described) == Set(allowed), "\(title): the validator allows \(allowed.sorted())")
            #expect(described.count == Set(described).count, "\(title) describes a key twice")
        }
        #expect(Set(PlanReference.csvColumns.map(\.name)) == Set(PlanValidator.csvColumns))
        let aliases = PlanReference.csvColumns.flatMap { column in column.aliases.map { ($0.lowercased(), column.name) }
        }
        #expect(Dictionary(uniqueKeysWithValues: aliases) == PlanValidator.csvAliases)
    }

    @Test func everyPlanKeyIsInItsSectionOfThePlanPage() throws {
        let page = try #require(ManPage.render("mailferry-plan"))
        let sections = Self.sections(page, at: ".SH")
        for object in PlanReference.objects {
            let section = try #require(sections[object.title.uppercased()], "no section \(object.title.uppercased())")
            for key in object.keys {
                #expect(section.contains(".TP\n\\fB\(key.name)\\fR ("), "\(object.title): \(key.name)")
                #expect(section.contains(key.meaning.replacingOccurrences(of: "\\", with: "\\e")), "\(key.name)")
            }
        }
        let columns = try #require(sections["CSV COLUMNS"])
        for column in PlanReference.csvColumns {
            #expect(columns.contains(".TP\n\\fB\(column.name)\\fR"), "CSV column \(column.name)")
            for alias in column.aliases { #expect(columns.contains(alias), "CSV column \(column.name): \(alias)") }
        }
    }

    /// docs/plan.md is the reference people read on the web: it names every key the manual does.
    @Test func docsPlanNamesEveryKey() throws {
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/plan.md"), encoding: .utf8)
        for object in PlanReference.objects where object.title != "Secret" {
            for key in object.keys { #expect(docs.contains("`\(key.name)`"), "docs/plan.md: \(key.name)") }
        }
    }

    /// Every option of every help text, `--parallel` and `-q` alike, and each in its command's section.
    @Test func everyOptionInHelpIsInTheCommandPage() throws {
        let page = try #require(ManPage.render("mailferry"))
        let plain = page.replacingOccurrences(of: "\\-", with: "-")
        let commands = Self.sections(page, at: ".SS")
        for name in ManPage.commandOrder {
            let help = try #require(HelpText.forCommand(name))
            let section = try #require(commands[name], "no section for \(name)")
            for option in Self.options(help) { #expect(section.contains(option), "\(name): \(option)") }
        }
        for option in Self.options(HelpText.top) { #expect(plain.contains(option), "\(option)") }
        for name in ["help", "--version"] { #expect(commands[name] != nil, "no section for \(name)") }
        #expect(plain.contains(".SH EXIT STATUS") && plain.contains(".SH ENVIRONMENT") && plain.contains(".SH FILES"))
    }

    /// The bash and zsh completions offer every command and every option its help names.
    @Test(arguments: ["packaging/completions/mailferry.bash", "packaging/completions/_mailferry"])
    func completionsOfferEveryCommandAndOption(file: String) throws {
        let script = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        let words = Set(script.split { !($0.isLetter || $0.isNumber || $0 == "-") }.map(String.init))
        for name in ManPage.commandOrder {
            #expect(words.contains(name), "\(file): no command \(name)")
            let help = try #require(HelpText.forCommand(name))
            // What the usage line and the option list name (not `-wal` in a sentence about SQLite's files).
            let listed = help.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { ($0.hasPrefix("-") && $0.contains("  ")) || $0.hasPrefix("Usage:") }
                .map { $0.hasPrefix("-") ? $0.components(separatedBy: "  ")[0] : $0 }
            let options = Self.options(listed.joined(separator: "\n"))
            #expect(options.contains("--help") || name == "route", "\(name): no options found")
            for option in options { #expect(words.contains(option), "\(file): \(name) \(option)") }
        }
    }

    /// The options a help text names: words that start with `-` or `--` and a letter (`--parallel`, `-q`).
    static func options(_ text: String) -> Set<String> {
        let words = text.split { !($0.isLetter || $0.isNumber || $0 == "-") }
        let found = words.filter { word in
            let name = word.drop { $0 == "-" }
            return word.hasPrefix("-") && word.count - name.count <= 2 && name.first?.isLetter == true
                && name.allSatisfy { ($0.isLetter && $0.isLowercase) || $0 == "-" }
        }
        return Set(found.map(String.init))
    }

    /// The pages are real troff: man renders them without a warning, with the sections and options in place.
    @Test(arguments: [("mailferry", "1"), ("mailferry-plan", "5")])
    func manRendersThePage(name: String, section: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/man") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("man is not installed") }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("manpage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("\(name).\(section)")
        try #require(ManPage.render(name)).write(to: file, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            "/usr/bin/man", ["--warnings", "-E", "UTF-8", "-l", file.path],
            environment: ["MANWIDTH": "100", "MAN_KEEP_FORMATTING": "", "PAGER": "cat", "MANPAGER": "cat"])
        let result = child.finish(within: 60, "man -l \(name).\(section)")
        #expect(result.code == 0)
        #expect(result.err == "", "man's warnings: \(result.err)")
        #expect(result.out.contains("\(name.uppercased())(\(section))"))
        #expect(result.out.contains(name == "mailferry" ? "--rebind MAILBOXES" : "deleteFromSourceAfterDays"))
    }

    /// The hidden command scripts/package uses prints the page; an unknown page is a usage error.
    @Test func helpManPrintsThePages() throws {
        let page = try EndToEnd.mailferry(["help", "--man", "mailferry-plan"])
        #expect(page.code == 0)
        #expect(page.out == ManPage.render("mailferry-plan").map { $0 + "\n" })
        let wrong = try EndToEnd.mailferry(["help", "--man", "mailferry-wrong"])
        #expect(wrong.code == 2)
        #expect(
            wrong.err == "mailferry help --man: name one page: mailferry or mailferry-plan\n"
                + "Run mailferry --help for usage.\n")
    }
}
