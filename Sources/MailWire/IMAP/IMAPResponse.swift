import Foundation
import Glibc
import MailCore
import MailSystem

/// One server response of IMAP (RFC 9051 §7, RFC 3501 §7): a tagged status, an untagged response ("* ..."), or a
/// command continuation request ("+ ...").
struct IMAPResponse {
    enum Kind: Equatable {
        case tagged(String)
        case untagged
        case continuation
    }

    enum Status: String {
        case ok = "OK"
        case no = "NO"
        case bad = "BAD"
        case bye = "BYE"
        case preauth = "PREAUTH"
    }

    var kind: Kind
    /// For status responses (tagged, or untagged OK/NO/BAD/BYE/PREAUTH).
    var status: Status?
    /// The response code in brackets, by its upper-cased atom ("[APPENDUID ...]", "[OVERQUOTA]"), if any
    /// (RFC 9051 §7.1).
    var code: IMAPResponseCode?
    /// What follows the code's atom inside the brackets ("38505 3955").
    var codeArguments: String = ""
    /// Untagged data responses: the first word, upper-cased, when it is not a status or a number ("CAPABILITY",
    /// "LIST", "SEARCH"); for "* 3 EXISTS" the word after the number ("EXISTS").
    var name: String?
    /// The line after the tag or "*" (literals inlined), as text with control bytes escaped; for data responses the
    /// part after `name`.
    var text: String
    /// The literals this response carried, in order.
    var literals: [[UInt8]] = []

    /// Parses one response line; `literals` were read off the wire by the client and are stored as they are.
    static func parse(_ line: [UInt8], literals: [[UInt8]] = []) throws -> IMAPResponse {
        let text = String(decoding: line, as: UTF8.self)
        func malformed() -> MailError {
            MailError(.protocol, "unexpected IMAP response: \(sanitizeForDisplay(line, limit: 120))")
        }
        if text == "+" || text.hasPrefix("+ ") {
            // Control characters are escaped here too, not only in status text: a continuation's text ends up in
            // error messages, and base64 (a SASL challenge) has none to lose (found by the IMAP fuzz target).
            return IMAPResponse(
                kind: .continuation, text: EncodedWords.escapingControls(String(text.dropFirst(2))),
                literals: literals)
        }
        guard let space = text.firstIndex(of: " ") else { throw malformed() }
        let tag = String(text[..<space])
        let rest = String(text[text.index(after: space)...])
        let kind: Kind = tag == "*" ? .untagged : .tagged(tag)
        if case .tagged = kind, tag.isEmpty || !tag.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 43 }) {
            throw malformed()
        }
        let firstWord = String(rest.prefix { $0 != " " })
        if let status = Status(rawValue: firstWord.uppercased()) {
            var response = IMAPResponse(kind: kind, status: status, text: "", literals: literals)
            var tail = rest.dropFirst(firstWord.count).drop { $0 == " " }
            if tail.first == "[" {
                // The code ends at the matching "]"; codes with lists ("[PERMANENTFLAGS (\Seen)]") nest no "]".
                if let close = tail.firstIndex(of: "]") {
                    let inner = tail[tail.index(after: tail.startIndex)..<close]
                    let atom = inner.prefix { $0 != " " }
                    response.code = IMAPResponseCode(atom.uppercased())
                    response.codeArguments = String(inner.dropFirst(atom.count).drop { $0 == " " })
                    tail = tail[tail.index(after: close)...].drop { $0 == " " }
                }
            }
            response.text = sanitizeForDisplay(String(tail), limit: 300)
            return response
        }
        guard case .untagged = kind else { throw malformed() }
        var name = firstWord.uppercased()
        var body = String(rest.dropFirst(firstWord.count).drop { $0 == " " })
        if Int(firstWord) != nil {
            // "* 23 EXISTS", "* 5 FETCH (...)": keep the number at the front of the text.
            let word = body.prefix { $0 != " " }
            name = word.uppercased()
            body = firstWord + " " + body.dropFirst(word.count).drop { $0 == " " }
        }
        return IMAPResponse(kind: kind, name: name, text: EncodedWords.escapingControls(body), literals: literals)
    }

    /// The words of a "CAPABILITY ..." response or response code, upper-cased.
    static func capabilities(_ text: String) -> Set<String> {
        Set(text.split(separator: " ").map { $0.uppercased() })
    }
}

/// IMAP's ways to write a string argument (RFC 9051 §4.3): quoted when it is plain printable ASCII, else a literal.
enum IMAPString {
    /// A quoted string (RFC 9051 §4.3): backslash and double quote escaped. Nil when the text needs a literal
    /// (8-bit, control characters, over 1000 bytes).
    static func quoted(_ text: String) -> String? {
        guard text.utf8.count <= 1000, text.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else { return nil }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            + "\""
    }

    /// A mailbox name in modified UTF-7 (RFC 3501 §5.1.3), what every IMAP4rev1 server understands: printable ASCII
    /// stays except "&" (written "&-"); other characters go as "&" + modified base64 of UTF-16BE + "-".
    static func modifiedUTF7(_ name: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
            let encoded = Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: ",")
                .replacingOccurrences(of: "=", with: "")
            out += "&" + encoded + "-"
            pending.removeAll()
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                out += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return out
    }

    /// INTERNALDATE as APPEND wants it (RFC 9051 §9 date-time): "dd-Mon-yyyy hh:mm:ss +0000", in UTC.
    static func internalDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let day = parts.tm_mday < 10 ? " \(parts.tm_mday)" : "\(parts.tm_mday)"
        return "\(day)-\(months[Int(parts.tm_mon)])-\(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
