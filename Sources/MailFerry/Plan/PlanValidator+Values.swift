import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Typed access to the plan tree: each reader returns the value, or nil after recording a problem at its key path.
extension PlanValidator {
    /// Keys that exist for other kinds of target but mean nothing for this one, with why: better than "unknown key"
    /// for an admin who copied an IMAP target and changed its kind.
    static let meaninglessForKind: [String: [String: String]] = [
        "lmtp": [
            "allowPlaintext": "LMTP sends no password (it has no login), so there is nothing to allow in plain text; "
                + "remove it",
            "user": "LMTP has no login (the delivery agent trusts the connection); remove it",
            "password": "LMTP has no login (the delivery agent trusts the connection), so no password is sent; remove "
                + "it",
            "token": "LMTP has no login (the delivery agent trusts the connection); remove it",
        ],
        "maildir": [
            "host": "a Maildir target is a folder on this machine (path); there is no server to connect to",
            "folder": "a Maildir target has no folders; put the folder into path, e.g. "
                + "\"/srv/mail/{mailbox}/.Archive\"",
        ],
    ]

    mutating func checkKeys(_ object: [String: JSONValue], allowed: [String], at: String) {
        var kind: String?
        if case .string(let text)? = object["kind"] { kind = text }
        for key in object.keys.sorted() where !allowed.contains(key) {
            if let kind, let why = Self.meaninglessForKind[kind]?[key] {
                let article = kind == "maildir" ? "a" : "an"
                problem(PlanPath.member(at, key), "has no meaning for \(article) \(kind) target: \(why)")
                continue
            }
            let near = closest(key, among: allowed)
            problem(PlanPath.member(at, key), "unknown key" + (near.map { " (did you mean \"\($0)\"?)" } ?? ""))
            // "pasword: unknown key (did you mean "password"?)" says it all; "password: missing" would be noise.
            if let near, object[near] == nil { misspelt.insert(PlanPath.member(at, near)) }
        }
    }

    func objectKeys(_ value: JSONValue?) -> [String] {
        if case .object(let o)? = value { return Array(o.keys) }
        return []
    }

    mutating func string(_ object: [String: JSONValue], _ key: String, at: String, required: Bool = false) -> String? {
        switch object[key] {
        case .string(let value)?: return value
        case nil:
            if required { problem(PlanPath.member(at, key), "missing") }
            return nil
        case let other?:
            problem(PlanPath.member(at, key), "must be text in quotes, found \(other.typeName)")
            return nil
        }
    }

    mutating func nonEmptyString(
        _ object: [String: JSONValue], _ key: String, at: String,
        required: Bool = false
    ) -> String? {
        guard let value = string(object, key, at: at, required: required) else { return nil }
        if value.isEmpty {
            problem(PlanPath.member(at, key), "must not be empty")
            return nil
        }
        return value
    }

    mutating func integer(_ object: [String: JSONValue], _ key: String, at: String, range: ClosedRange<Int>) -> Int? {
        switch object[key] {
        case .number(let value)?:
            guard value.isFinite, value == value.rounded(), let int = Int(exactly: value), range.contains(int) else {
                problem(
                    PlanPath.member(at, key),
                    "must be a whole number from \(range.lowerBound) to "
                        + "\(range.upperBound)")
                return nil
            }
            return int
        case nil: return nil
        case let other?:
            problem(PlanPath.member(at, key), "must be a number, found \(other.typeName)")
            return nil
        }
    }

    mutating func bool(_ object: [String: JSONValue], _ key: String, at: String) -> Bool? {
        switch object[key] {
        case .bool(let value)?: return value
        case nil: return nil
        case let other?:
            problem(PlanPath.member(at, key), "must be true or false, found \(other.typeName)")
            return nil
        }
    }

    mutating func object(
        _ object: [String: JSONValue], _ key: String, at: String,
        required: Bool
    ) -> [(String, JSONValue)] {
        switch object[key] {
        case .object(let value)?: return value.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        case nil:
            if required { problem(PlanPath.member(at, key), "missing") }
            return []
        case let other?:
            problem(PlanPath.member(at, key), "must be an object, found \(other.typeName)")
            return []
        }
    }

    /// A list of strings; problems name the element.
    mutating func stringList(_ object: [String: JSONValue], _ key: String, at: String) -> [String]? {
        let path = PlanPath.member(at, key)
        switch object[key] {
        case .array(let items)?:
            var out: [String] = []
            for (index, item) in items.enumerated() {
                if case .string(let text) = item {
                    out.append(text)
                } else {
                    problem(PlanPath.element(path, index), "must be text in quotes, found \(item.typeName)")
                }
            }
            return out
        case nil: return nil
        case let other?:
            problem(path, "must be a list, found \(other.typeName)")
            return nil
        }
    }

    mutating func date(_ object: [String: JSONValue], _ key: String, at: String) -> String? {
        guard let text = string(object, key, at: at) else { return nil }
        guard UTCDate.day(text) != nil else {
            problem(
                PlanPath.member(at, key),
                "\"\(sanitizeForDisplay(text, limit: 40))\" is not a date; write "
                    + "YYYY-MM-DD, e.g. \"2026-12-15\"")
            return nil
        }
        return text
    }

    /// `{ env: NAME }`, `{ file: PATH }` or `{ command: [...] }` (optionally with `env: [NAME, ...]`, what the
    /// program may see of mailferry's environment). A password written inline is refused: plan files
    /// get copied around. Messages never repeat what was written where a secret should be.
    mutating func secret(_ object: [String: JSONValue], _ key: String, at: String) -> SecretRef? {
        let path = PlanPath.member(at, key)
        let forms = "{ env: \"NAME\" }, { file: \"path\" } or { command: [\"program\", \"arg\"] }"
        switch object[key] {
        case .object(let s)?:
            if s.count == 1, case .string(let name)? = s["env"] {
                guard Self.isVariableName(name) else {
                    problem(
                        PlanPath.member(path, "env"),
                        "an environment variable name has letters, digits and "
                            + "'_' only, and does not start with a digit")
                    return nil
                }
                return .env(name)
            }
            if s.count == 1, case .string(let file)? = s["file"], !file.isEmpty { return .file(resolve(file)) }
            if case .array(let items)? = s["command"], s.keys.allSatisfy({ $0 == "command" || $0 == "env" }) {
                return commandSecret(s, items: items, at: path)
            }
            let keys = s.keys.sorted()
            if s["command"] != nil, let other = keys.first(where: { $0 != "command" && $0 != "env" }) {
                let near = closest(other, among: ["env"]).map { " (did you mean \"\($0)\"?)" } ?? ""
                problem(
                    PlanPath.member(path, other),
                    "unknown key\(near); a command secret has command and, "
                        + "optionally, env: the names of the variables it may see")
                return nil
            }
            if keys.count == 1, let only = keys.first, let near = closest(only, among: ["env", "file", "command"]) {
                problem(PlanPath.member(path, only), "unknown key (did you mean \"\(near)\"?)")
                return nil
            }
            problem(path, "must be exactly one of \(forms)")
            return nil
        case .string?, .number?:
            problem(
                path,
                "a password written in the plan is refused (plans get copied, mailed and committed); "
                    + "put it in an environment variable or a file readable only by you, and write \(forms)")
            return nil
        case nil:
            problem(path, "missing: write \(forms)")
            return nil
        case let other?:
            problem(path, "must be \(forms), found \(other.typeName)")
            return nil
        }
    }

    /// A `{ command: [program, args…], env: [names] }` secret: a non-empty program, text arguments, a relative program
    /// path resolved against the plan's folder.
    mutating func commandSecret(_ s: [String: JSONValue], items: [JSONValue], at path: String) -> SecretRef? {
        let argv = items.compactMap { item -> String? in
            if case .string(let text) = item { return text }
            return nil
        }
        let names = commandEnvironment(s, at: path)
        if !argv.isEmpty && argv.count == items.count && !argv[0].isEmpty {
            guard let names else { return nil }
            // A relative program path is the plan's, like every other path; a bare name is looked up in PATH.
            return .command(
                [argv[0].contains("/") ? resolve(argv[0]) : argv[0]] + argv.dropFirst(),
                env: names)
        }
        problem(
            PlanPath.member(path, "command"),
            "must be a non-empty list of text: the program, then its "
                + "arguments")
        return nil
    }

    /// The `env` of a command secret: names of environment variables the program may see besides PATH, HOME,
    /// LANG, LC_ALL and TZ (CommandRunner.baseVariables). Names only: a value written here would be a secret in the
    /// plan. nil when something is wrong (reported).
    mutating func commandEnvironment(_ secret: [String: JSONValue], at path: String) -> [String]? {
        let envPath = PlanPath.member(path, "env")
        switch secret["env"] {
        case nil:
            return []
        case .array(let items)?:
            var names: [String] = []
            var ok = true
            for (index, item) in items.enumerated() {
                if case .string(let name) = item, Self.isVariableName(name) {
                    names.append(name)
                    continue
                }
                ok = false
                if case .string = item {
                    problem(
                        PlanPath.element(envPath, index),
                        "must be the name of an environment variable (letters, "
                            + "digits and '_', not starting with a digit), not its value")
                } else {
                    problem(
                        PlanPath.element(envPath, index),
                        "must be the name of an environment variable in "
                            + "quotes, found \(item.typeName)")
                }
            }
            return ok ? names : nil
        case let other?:
            problem(
                envPath,
                "must be a list of environment variable names, e.g. [\"VAULT_ADDR\", \"VAULT_TOKEN\"]; "
                    + "found \(other.typeName)")
            return nil
        }
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first), name.count <= 200 else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII
                && ($0.properties.isAlphabetic || $0 == "_"
                    || ("0"..."9").contains($0))
        }
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") { return NSString(string: path).expandingTildeInPath }
        return URL(fileURLWithPath: workspace).appendingPathComponent(path).standardizedFileURL.path
    }
}
