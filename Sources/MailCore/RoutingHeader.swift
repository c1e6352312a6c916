import Foundation

/// The header a catch-all's fallback copy carries when the plan asks (`global.reasonHeader: true`):
/// `X-MailFerry-Routing: fallback; <why>`, so whoever reads the fallback mailbox sees why the message is there.
/// Only that copy gets it; every other delivery stays byte-identical to what the server sent (DESIGN.md promise).
public enum RoutingHeader {
    public static let name = "X-MailFerry-Routing"
    /// The reason is cut to this many characters: the whole field stays far below RFC 5322's 998-octet line limit
    /// even where it cannot be folded (one long word).
    static let reasonLimit = 900

    /// The field, folded (RFC 5322 §2.2.3) at spaces to lines of at most 78 characters where the words allow, never
    /// past 998; ending with `lineEnding`. The reason is made 7-bit: line breaks and other control characters
    /// become spaces, "→" becomes "->", any other non-ASCII character becomes `\u{…}`; so no text from a message can
    /// end the field early or add a field of its own.
    public static func fallbackField(reason: String, lineEnding: String = "\r\n") -> [UInt8] {
        var text = ""
        for scalar in reason.unicodeScalars {
            switch scalar.value {
            case 0x20..<0x7F: text.unicodeScalars.append(scalar)
            case 0x00..<0x20, 0x7F: text += " "
            case 0x2192: text += "->"
            default: text += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        text = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        if text.count > reasonLimit { text = String(text.prefix(reasonLimit - 3)) + "..." }
        var lines: [String] = []
        var line = "\(name): fallback;"
        for word in text.split(separator: " ") {
            if line.count + 1 + word.count > 78 && line.count > 1 {
                lines.append(line)
                line = " " + word
            } else {
                line += " " + word
            }
        }
        lines.append(line)
        return Array(lines.joined(separator: lineEnding).utf8) + Array(lineEnding.utf8)
    }

    /// The line ending the message itself uses (what POP3 sends is CRLF; a spool of bare LFs gets LF), judged by its
    /// first line.
    public static func lineEnding(of head: [UInt8]) -> String {
        guard let lf = head.firstIndex(of: 0x0A) else { return "\r\n" }
        return lf > 0 && head[lf - 1] == 0x0D ? "\r\n" : "\n"
    }
}
