import Foundation

/// One thing wrong with a plan, located by its key path ("mailboxes[2].source").
public struct PlanProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A plan that cannot be used, with every problem found (not just the first).
public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var problems: [PlanProblem]
    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}

/// Reads and validates plan files.
public enum PlanLoader {
    /// Relative paths in a plan are resolved against its workspace: the parent of the `jobs/` folder the plan lives
    /// in (where `state/` and `reports/` sit), or else the plan file's own folder. So `jobs/x.json5` can say
    /// `state: "state/x.sqlite"` and mean `<workspace>/state/x.sqlite`, wherever mailferry is started from.
    public static func workspace(for planFile: String) -> String {
        let absolute = URL(fileURLWithPath: planFile).standardizedFileURL
        let folder = absolute.deletingLastPathComponent()
        if folder.lastPathComponent == "jobs" {
            return folder.deletingLastPathComponent().path
        }
        return folder.path
    }

    public static func load(_ file: String) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "cannot be read" : "does not exist"
            throw PlanError(file: file, problems: [PlanProblem(path: "", message: "the plan file \(reason)")])
        }
        let tree: JSONValue
        do {
            tree = try JSONValue.parseJSON5(data)
        } catch {
            throw PlanError(file: file, problems: [PlanProblem(path: "", message: "not valid JSON5: "
                + describeDecodingError(error))])
        }
        var validator = PlanValidator(file: file, workspace: workspace(for: file))
        let plan = validator.build(tree)
        if let plan, validator.problems.isEmpty { return plan }
        throw PlanError(file: file, problems: validator.problems)
    }

    static func describeDecodingError(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as NSError?,
               let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return detail
            }
            return context.debugDescription
        }
        return "\(error)"
    }
}

/// Walks the plan tree, building the model and collecting problems.
struct PlanValidator {
    let file: String
    let workspace: String
    private(set) var problems: [PlanProblem] = []

    init(file: String, workspace: String) {
        self.file = file
        self.workspace = workspace
    }

    static let topKeys = ["plan", "transition", "state", "reports", "parallel", "sources", "targets", "mailboxes"]
    static let transitionKeys = ["start", "cutover", "end"]
    static let sourceKeys = ["host", "port", "tls", "caFile", "allowPlaintext", "maxConnections", "timeoutSeconds",
                             "auth", "withoutUIDL", "allowExpireZero", "pipelining"]
    static let maildirKeys = ["kind", "path"]
    static let mailboxKeys = ["source", "user", "password", "token", "target", "mailbox"]

    mutating func problem(_ path: String, _ message: String) {
        problems.append(PlanProblem(path: path, message: message))
    }

    mutating func build(_ tree: JSONValue) -> Plan? {
        guard case .object(let top) = tree else {
            problem("", "the plan must be an object ({ plan: ..., sources: ..., ... }), found \(tree.typeName)")
            return nil
        }
        checkKeys(top, allowed: Self.topKeys, at: "")
        let name = string(top, "plan", at: "", required: true) ?? "plan"
        if !name.isEmpty && !name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
            problem("plan", "use letters, digits, '-', '_' and '.' only: the name becomes a file and folder name")
        }
        var transition = Plan.Transition()
        if let value = top["transition"] {
            if case .object(let t) = value {
                checkKeys(t, allowed: Self.transitionKeys, at: "transition")
                transition.start = date(t, "start", at: "transition")
                transition.cutover = date(t, "cutover", at: "transition")
                transition.end = date(t, "end", at: "transition")
            } else {
                problem("transition", "must be an object like { cutover: \"2026-12-15\" }")
            }
        }
        let statePath = resolve(string(top, "state", at: "") ?? "state/\(name).sqlite")
        let reportsPath = resolve(string(top, "reports", at: "") ?? "reports/\(name)")
        let parallel = integer(top, "parallel", at: "", range: 1...256) ?? 4

        var sources: [String: Plan.Source] = [:]
        for (key, value) in object(top, "sources", at: "", required: true) {
            if let source = buildSource(key, value) { sources[key] = source }
        }
        var targets: [String: Plan.Target] = [:]
        for (key, value) in object(top, "targets", at: "", required: true) {
            if let target = buildTarget(key, value) { targets[key] = target }
        }
        var mailboxes: [Plan.Mailbox] = []
        var seen: [String: Int] = [:]
        switch top["mailboxes"] {
        case .array(let list)?:
            for (index, value) in list.enumerated() {
                let at = "mailboxes[\(index)]"
                guard let mailbox = buildMailbox(value, at: at, sources: sources, targets: targets) else { continue }
                if let first = seen[mailbox.key] {
                    problem(at, "duplicate mailbox \(mailbox.key) (also mailboxes[\(first)])")
                } else {
                    seen[mailbox.key] = index
                    mailboxes.append(mailbox)
                }
            }
            if list.isEmpty { problem("mailboxes", "the list is empty: nothing to migrate") }
        case nil:
            problem("mailboxes", "missing: list the legacy mailboxes to migrate")
        case let other?:
            problem("mailboxes", "must be a list, found \(other.typeName)")
        }
        return Plan(name: name, file: file, workspace: workspace, transition: transition, statePath: statePath,
                    reportsPath: reportsPath, parallel: parallel, sources: sources, targets: targets,
                    mailboxes: mailboxes)
    }

    // MARK: - Sections

    mutating func buildSource(_ name: String, _ value: JSONValue) -> Plan.Source? {
        let at = "sources.\(name)"
        guard case .object(let s) = value else {
            problem(at, "must be an object like { host: \"pop.example\", tls: \"implicit\" }")
            return nil
        }
        checkKeys(s, allowed: Self.sourceKeys, at: at)
        let host = string(s, "host", at: at, required: true) ?? ""
        var tls = TLSMode.implicit
        if let text = string(s, "tls", at: at) {
            if let mode = TLSMode(rawValue: text) {
                tls = mode
            } else {
                problem("\(at).tls", "unknown value \"\(text)\"; use \"implicit\", \"starttls\" or \"none\"")
            }
        }
        let port = integer(s, "port", at: at, range: 1...65535) ?? (tls == .implicit ? 995 : 110)
        let allowPlaintext = bool(s, "allowPlaintext", at: at) ?? false
        if tls == .none && !allowPlaintext {
            problem("\(at).tls", "\"none\" sends passwords in clear text; add allowPlaintext: true to this source "
                + "if that is really intended, or use \"implicit\" or \"starttls\"")
        }
        let caFile = string(s, "caFile", at: at).map(resolve)
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            problem("\(at).caFile", "cannot read \(caFile)")
        }
        let timeout = integer(s, "timeoutSeconds", at: at, range: 1...3600) ?? 60
        let maxConnections = integer(s, "maxConnections", at: at, range: 1...1000) ?? 4
        let pipelining = bool(s, "pipelining", at: at) ?? true
        var auth = POP3AuthMethod.byStrength
        switch s["auth"] {
        case .array(let items)?:
            auth = []
            for (index, item) in items.enumerated() {
                if case .string(let name) = item, let method = POP3AuthMethod(rawValue: name.lowercased()) {
                    auth.append(method)
                } else {
                    let text = { if case .string(let t) = item { return t } else { return item.typeName } }()
                    problem("\(at).auth[\(index)]", "unknown login method \"\(text)\"; use "
                        + POP3AuthMethod.byStrength.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                        + suggestion(text, among: POP3AuthMethod.allCases.map(\.rawValue)))
                }
            }
            if items.isEmpty { problem("\(at).auth", "the list is empty: no way to log in") }
        case nil: break
        case let other?: problem("\(at).auth", "must be a list like [\"cram-md5\", \"plain\", \"user\"], found "
            + other.typeName)
        }
        var withoutUIDL = Plan.WithoutUIDL.refuse
        if let text = string(s, "withoutUIDL", at: at) {
            if let value = Plan.WithoutUIDL(rawValue: text) {
                withoutUIDL = value
            } else {
                problem("\(at).withoutUIDL", "unknown value \"\(text)\"; use \"refuse\" or \"header-fingerprint\"")
            }
        }
        let allowExpireZero = bool(s, "allowExpireZero", at: at) ?? false
        let endpoint = POP3Endpoint(host: host, port: port, tls: tls, tlsSettings: TLSSettings(caFile: caFile),
                                    allowPlaintext: allowPlaintext, timeout: Double(timeout),
                                    pipelineWindow: pipelining ? 16 : 1)
        return Plan.Source(name: name, endpoint: endpoint, maxConnections: maxConnections, auth: auth,
                           withoutUIDL: withoutUIDL, allowExpireZero: allowExpireZero)
    }

    mutating func buildTarget(_ name: String, _ value: JSONValue) -> Plan.Target? {
        let at = "targets.\(name)"
        guard case .object(let t) = value else {
            problem(at, "must be an object like { kind: \"maildir\", path: \"/srv/mail/{mailbox}\" }")
            return nil
        }
        guard let kind = string(t, "kind", at: at, required: true) else { return nil }
        switch kind {
        case "maildir":
            checkKeys(t, allowed: Self.maildirKeys, at: at)
            guard let path = string(t, "path", at: at, required: true) else { return nil }
            return Plan.Target(name: name, kind: .maildir(path: resolve(path)))
        case "imap", "lmtp", "smtp":
            problem("\(at).kind", "\"\(kind)\" targets are not available in this version of mailferry yet; "
                + "use \"maildir\"")
            return nil
        default:
            problem("\(at).kind", "unknown target kind \"\(kind)\"; use \"maildir\""
                + suggestion(kind, among: ["maildir", "imap", "lmtp", "smtp"]))
            return nil
        }
    }

    mutating func buildMailbox(_ value: JSONValue, at: String, sources: [String: Plan.Source],
                               targets: [String: Plan.Target]) -> Plan.Mailbox? {
        guard case .object(let m) = value else {
            problem(at, "must be an object like { source: \"isp\", user: \"chris\", password: { env: \"PW\" }, "
                + "target: \"archive\" }")
            return nil
        }
        checkKeys(m, allowed: Self.mailboxKeys, at: at)
        let source = string(m, "source", at: at, required: true)
        let user = string(m, "user", at: at, required: true)
        let target = string(m, "target", at: at, required: true)
        let address = string(m, "mailbox", at: at)
        var password: SecretRef?
        var token: SecretRef?
        if m["token"] != nil {
            token = secret(m, "token", at: at)
            if m["password"] != nil { password = secret(m, "password", at: at) }
        } else {
            password = secret(m, "password", at: at)
        }
        if let source, sources[source] == nil {
            problem("\(at).source", "no source named \"\(source)\" in sources"
                + suggestion(source, among: Array(sources.keys)))
        }
        if let target, targets[target] == nil {
            problem("\(at).target", "no target named \"\(target)\" in targets"
                + suggestion(target, among: Array(targets.keys)))
        }
        if let user, user.isEmpty || user.contains(where: { $0.isNewline || $0 == "\0" }) {
            problem("\(at).user", "must be a non-empty name without line breaks")
        }
        let resolvedAddress = address ?? user ?? ""
        if resolvedAddress.contains("/") || resolvedAddress.contains("\0") || resolvedAddress.hasPrefix(".") {
            problem("\(at).mailbox", "\"\(sanitizeForDisplay(resolvedAddress))\" cannot name a mailbox: it would "
                + "escape the target folder")
        }
        if let token, let source, let methods = sources[source]?.auth, !methods.contains(where: \.usesToken) {
            _ = token
            problem("\(at).token", "sources.\(source).auth allows no token method; add \"oauthbearer\" or \"xoauth2\"")
        }
        guard let source, let user, let target, password != nil || token != nil else { return nil }
        return Plan.Mailbox(source: source, user: user, password: password, token: token, target: target,
                            address: resolvedAddress)
    }

    // MARK: - Typed access with problems

    mutating func checkKeys(_ object: [String: JSONValue], allowed: [String], at: String) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            problem(join(at, key), "unknown key" + suggestion(key, among: allowed))
        }
    }

    func join(_ at: String, _ key: String) -> String { at.isEmpty ? key : "\(at).\(key)" }

    mutating func string(_ object: [String: JSONValue], _ key: String, at: String, required: Bool = false) -> String? {
        switch object[key] {
        case .string(let value)?: return value
        case nil:
            if required { problem(join(at, key), "missing") }
            return nil
        case let other?:
            problem(join(at, key), "must be a string, found \(other.typeName)")
            return nil
        }
    }

    mutating func integer(_ object: [String: JSONValue], _ key: String, at: String, range: ClosedRange<Int>) -> Int? {
        switch object[key] {
        case .number(let value)?:
            guard value == value.rounded(), let int = Int(exactly: value), range.contains(int) else {
                problem(join(at, key), "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return int
        case nil: return nil
        case let other?:
            problem(join(at, key), "must be a number, found \(other.typeName)")
            return nil
        }
    }

    mutating func bool(_ object: [String: JSONValue], _ key: String, at: String) -> Bool? {
        switch object[key] {
        case .bool(let value)?: return value
        case nil: return nil
        case let other?:
            problem(join(at, key), "must be true or false, found \(other.typeName)")
            return nil
        }
    }

    mutating func object(_ object: [String: JSONValue], _ key: String, at: String,
                         required: Bool) -> [(String, JSONValue)] {
        switch object[key] {
        case .object(let value)?: return value.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        case nil:
            if required { problem(join(at, key), "missing") }
            return []
        case let other?:
            problem(join(at, key), "must be an object, found \(other.typeName)")
            return []
        }
    }

    mutating func date(_ object: [String: JSONValue], _ key: String, at: String) -> String? {
        guard let text = string(object, key, at: at) else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard text.count == 10, let parsed = formatter.date(from: text), formatter.string(from: parsed) == text else {
            problem(join(at, key), "\"\(text)\" is not a date; write YYYY-MM-DD, e.g. \"2026-12-15\"")
            return nil
        }
        return text
    }

    /// `{ env: NAME }` or `{ file: PATH }`. A password written inline is refused: plan files get copied around.
    mutating func secret(_ object: [String: JSONValue], _ key: String, at: String) -> SecretRef? {
        let path = join(at, key)
        switch object[key] {
        case .object(let s)?:
            if s.count == 1, case .string(let name)? = s["env"], !name.isEmpty { return .env(name) }
            if s.count == 1, case .string(let file)? = s["file"], !file.isEmpty { return .file(resolve(file)) }
            if s.count == 1, case .array(let items)? = s["command"] {
                let argv = items.compactMap { item -> String? in
                    if case .string(let text) = item { return text }
                    return nil
                }
                if !argv.isEmpty && argv.count == items.count && !argv[0].isEmpty {
                    // A relative program path is the plan's, like every other path; a bare name is looked up in PATH.
                    return .command([argv[0].contains("/") ? resolve(argv[0]) : argv[0]] + argv.dropFirst())
                }
            }
            problem(path, "must be { env: \"NAME\" }, { file: \"path\" } or { command: [\"program\", \"arg\"] }")
            return nil
        case .string?:
            problem(path, "a password written in the plan is refused (plans get copied, mailed and committed); "
                + "put it in an environment variable or a file readable only by you, and write "
                + "{ env: \"NAME\" }, { file: \"path\" } or { command: [\"program\", \"arg\"] }")
            return nil
        case nil:
            problem(path, "missing: write { env: \"NAME\" } or { file: \"path\" }")
            return nil
        case let other?:
            problem(path, "must be { env: \"NAME\" } or { file: \"path\" }, found \(other.typeName)")
            return nil
        }
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") { return NSString(string: path).expandingTildeInPath }
        return URL(fileURLWithPath: workspace).appendingPathComponent(path).standardizedFileURL.path
    }
}

/// ` (did you mean "x"?)` when a close enough candidate exists, else "".
func suggestion(_ word: String, among candidates: [String]) -> String {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) else { return "" }
    return " (did you mean \"\(best.0)\"?)"
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
