import Foundation
import MailCore

/// People who write YAML plans (Kubernetes, Ansible) get a syntax error from the JSON5 parser on the first line;
/// the error then says what a plan is, so they need not guess.
extension PlanLoader {
    static let yamlHint =
        "Plans are JSON5, not YAML: wrap the plan in { }, put text values in quotes and end each entry with a "
        + "comma (mailferry init writes a commented example)"

    /// The hint for a syntax error in `file`, when it is named .yaml/.yml or reads like YAML; nil otherwise.
    static func yamlHint(file: String, data: Data) -> String? {
        let lower = file.lowercased()
        guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || looksLikeYAML(data) else { return nil }
        return yamlHint
    }

    /// The first line that is neither blank nor a `//` comment starts a YAML document: `---`, a `#` comment, a list
    /// item (`- x`) or a `key:` outside any brace.
    static func looksLikeYAML(_ data: Data) -> Bool {
        let text = String(decoding: data.prefix(64 * 1024), as: UTF8.self)
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.drop { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" }
            if line.isEmpty || line.hasPrefix("//") { continue }
            if line.hasPrefix("---") || line.hasPrefix("#") || line.hasPrefix("- ") { return true }
            guard let colon = line.firstIndex(of: ":") else { return false }
            let key = line[..<colon]
            let after = line[line.index(after: colon)...]
            return !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || "_-".contains($0) }
                && (after.isEmpty || after.hasPrefix(" "))
        }
        return false
    }
}
