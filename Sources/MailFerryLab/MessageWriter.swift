/// Builds one message as raw bytes, line by line, with a chosen line-ending policy.
///
/// Raw bytes, not `String`, because the corpus must be able to hold what real legacy mail holds: latin-1 bytes that
/// are not UTF-8, bare LF, and CRLF mixed with LF in one file.
struct MessageWriter {
    enum LineEnding {
        /// CRLF everywhere (RFC 5322 §2.1).
        case crlf
        /// LF everywhere: what most Unix MTAs store in a Maildir.
        case lf
        /// CRLF in the header, a deterministic mix of CRLF and LF in the body (mail appended to by scripts, or
        /// edited by hand): the first body line ends in LF, the second in CRLF, the rest at random.
        case mixed
    }

    private(set) var bytes: [UInt8] = []
    private let ending: LineEnding
    private var rng: SplitMix64
    private var bodyLines = -1

    init(ending: LineEnding, rng: SplitMix64) {
        self.ending = ending
        self.rng = rng
    }

    var count: Int {
        bytes.count
    }

    mutating func line(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        endLine()
    }

    mutating func line(raw: [UInt8]) {
        bytes.append(contentsOf: raw)
        endLine()
    }

    mutating func lines(_ texts: [String]) {
        for text in texts { line(text) }
    }

    mutating func header(_ name: String, _ value: String) {
        line("\(name): \(value)")
    }

    /// A header folded over several lines (RFC 5322 §2.2.3): every part after the first starts with whitespace.
    mutating func folded(_ name: String, _ parts: [String], indent: String = "\t") {
        line("\(name): \(parts[0])")
        for part in parts.dropFirst() { line(indent + part) }
    }

    /// The empty line between header and body.
    mutating func endHeader() {
        endLine()
        bodyLines = 0
    }

    private mutating func endLine() {
        let useLF: Bool
        switch ending {
        case .crlf:
            useLF = false
        case .lf:
            useLF = true
        case .mixed:
            if bodyLines < 0 {
                useLF = false
            } else {
                useLF = bodyLines == 0 || (bodyLines > 1 && rng.chance(40))
                bodyLines += 1
            }
        }
        if !useLF {
            bytes.append(0x0D)
        }
        bytes.append(0x0A)
    }
}
