import Foundation

/// Values that become one folder name under a target's root: a mailbox address, its local part and domain, a user
/// name. They come from the plan, from CSV lists, and (in a catch-all mailbox) from the trace headers of messages
/// written by strangers, so each is checked to be exactly one harmless path component before it is used
/// (SECURITY.md, "Containment").
public enum PathComponent {
    /// A substituted value's limit in UTF-8 bytes; the folder name it becomes must also stay within NAME_MAX (255).
    public static let maxValueBytes = 200
    public static let maxNameBytes = 255

    /// Why `value` cannot be one path component, or nil when it can: not empty, no `/` or look-alike slash, no
    /// backslash, not `.` or `..`, no leading `.` (a hidden or relative name), no NUL, control or invisible
    /// formatting character, and at most `maxValueBytes` bytes.
    public static func problem(_ value: String) -> String? {
        if value.isEmpty { return "it is empty" }
        if value.utf8.count > maxValueBytes { return "it is longer than \(maxValueBytes) bytes" }
        if value.hasPrefix(".") { return "it starts with '.'" }
        for scalar in value.unicodeScalars {
            if scalar == "/" || scalar == "\\" { return "it contains '\(scalar)'" }
            if scalar.value == 0 { return "it contains a NUL character" }
            if lookAlikeSlashes.contains(scalar.value) {
                return "it contains U+\(String(scalar.value, radix: 16, uppercase: true)), which looks like a slash"
            }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                return "it contains the control or invisible character U+"
                    + String(scalar.value, radix: 16, uppercase: true)
            default:
                continue
            }
        }
        return nil
    }

    /// Why an address cannot name a mailbox folder ({mailbox}, {local}, {domain}), or nil when it can: the whole
    /// address and both its parts must each be a safe component.
    public static func addressProblem(_ address: String) -> String? {
        if let problem = problem(address) { return problem }
        guard let at = address.firstIndex(of: "@") else { return nil }
        if let problem = problem(String(address[..<at])) { return "its local part: " + problem }
        if let problem = problem(String(address[address.index(after: at)...])) { return "its domain: " + problem }
        return nil
    }

    /// Characters that render as a slash or backslash: harmless to the file system, but a folder named with one
    /// misleads whoever reads a listing.
    static let lookAlikeSlashes: Set<UInt32> = [
        0x2044,  // FRACTION SLASH
        0x2215,  // DIVISION SLASH
        0x2216,  // SET MINUS
        0x2571,  // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
        0x2572,  // BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT
        0x27CB,  // MATHEMATICAL RISING DIAGONAL
        0x27CD,  // MATHEMATICAL FALLING DIAGONAL
        0x29F5,  // REVERSE SOLIDUS OPERATOR
        0x29F8,  // BIG SOLIDUS
        0x29F9,  // BIG REVERSE SOLIDUS
        0x3033,  // VERTICAL KANA REPEAT MARK UPPER HALF
        0xFE68,  // SMALL REVERSE SOLIDUS
        0xFF0F,  // FULLWIDTH SOLIDUS
        0xFF3C,  // FULLWIDTH REVERSE SOLIDUS
        0x1735,  // PHILIPPINE SINGLE PUNCTUATION
        0x0338,  // COMBINING LONG SOLIDUS OVERLAY
        0x0337,  // COMBINING SHORT SOLIDUS OVERLAY
    ]
}
