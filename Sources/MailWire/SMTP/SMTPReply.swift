import MailCore
import MailSystem

/// One SMTP or LMTP reply (RFC 5321 §4.2): one or more lines "250-text" ... "250 text", with an enhanced status code
/// (RFC 3463, "5.2.2") when the server sends them (RFC 2034).
package struct SMTPReply: Equatable {
    package var code: Int
    /// "x.y.z" from the first line, if present.
    var enhanced: EnhancedStatusCode?
    /// The text of each line after the code (and the enhanced code of the first), sanitized for display.
    var lines: [String]

    package var positive: Bool { code >= 200 && code < 400 }
    var text: String { lines.joined(separator: " / ") }
    /// Both codes, for `MailError.code`.
    var status: SMTPStatus { SMTPStatus(reply: code, enhanced: enhanced) }
    /// The reply as one line for reports: "550 5.1.1 User unknown".
    package var summary: String { "\(code) " + (enhanced.map { "\($0) " } ?? "") + (lines.first ?? "") }

    /// Reads one reply from `nextLine`, at most `maxLines` lines (an EHLO answer has a few dozen).
    static func read(maxLines: Int = 512, _ nextLine: () throws -> [UInt8]) throws -> SMTPReply {
        var code: Int?
        var lines: [String] = []
        var enhanced: EnhancedStatusCode?
        for _ in 0..<maxLines {
            let line = try nextLine()
            guard line.count >= 3, line[0..<3].allSatisfy({ $0 >= 48 && $0 <= 57 }),
                line.count == 3 || line[3] == 32 || line[3] == 45
            else {
                throw MailError(.protocol, "unexpected SMTP reply: \(sanitizeForDisplay(line, limit: 120))")
            }
            let lineCode = Int(String(decoding: line[0..<3], as: UTF8.self))!
            if let code, code != lineCode {
                throw MailError(.protocol, "SMTP reply lines with different codes (\(code), \(lineCode))")
            }
            code = lineCode
            var text = line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : ""
            if lines.isEmpty, let first = text.split(separator: " ", maxSplits: 1).first,
                let status = Self.enhancedCode(first), status.class == lineCode / 100
            {
                enhanced = status
                text = String(text.dropFirst(first.count).drop { $0 == " " })
            }
            lines.append(sanitizeForDisplay(text, limit: 300))
            if line.count == 3 || line[3] == 32 {
                return SMTPReply(code: lineCode, enhanced: enhanced, lines: lines)
            }
        }
        throw MailError(.protocol, "SMTP reply longer than \(maxLines) lines")
    }

    /// "class.subject.detail" (RFC 3463 §2): class 2, 4 or 5, subject and detail of one to three digits. Leading
    /// zeros are not taken ("5.01.1" stays text), so the code prints back exactly as the server wrote it.
    private static func enhancedCode(_ word: Substring) -> EnhancedStatusCode? {
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            parts.allSatisfy({ part in
                (1...3).contains(part.utf8.count) && part.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
                    && (part.utf8.count == 1 || part.utf8.first != 48)
            })
        else { return nil }
        let numbers = parts.map { Int($0)! }
        guard [2, 4, 5].contains(numbers[0]) else { return nil }
        return EnhancedStatusCode(numbers[0], numbers[1], numbers[2])
    }

    /// The failure classification of a negative reply. Retry policy reads only this.
    func classify(doing what: String) -> MailError {
        let kind: FailureKind
        let subject = enhanced.map { ($0.subject, $0.detail) }  // 2.2 of 5.2.2
        switch (code, subject) {
        // X.2.2 mailbox full (RFC 3463 §3.3); 552 without an enhanced code is "exceeded storage allocation".
        case (_, (2, 2)?), (552, nil):
            kind = .quota
        // 530/535/534/538, or X.7.8 / X.7.9 / X.7.11 / X.7.0 "authentication required" (RFC 4954 §6).
        case (530, _), (534, _), (535, _), (_, (7, 8)?), (_, (7, 9)?):
            kind = .auth
        case (538, _), (_, (7, 11)?):
            kind = .tls
        case (400..<500, _):
            kind = .transient
        case (500..<600, _):
            kind = .permanent
        default:
            kind = .protocol
        }
        return MailError(kind, "\(what) refused: \(summary)", code: .smtp(status))
    }
}
