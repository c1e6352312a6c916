import Foundation

/// "30 s", "1.5 s": a duration as the messages and reports show it.
package func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
}

/// Lower-case hexadecimal, two digits per byte: how digests are written.
package func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// "1 message", "0 messages", "3 mailboxes", "2 deliveries": a count and its noun, singular for exactly one. The
/// plural is the English regular one (`-es` after s, x, z, ch, sh; `-ies` after a consonant and y) unless given.
/// Every count a person reads goes through here (or `pluralized`), so none says "1 messages".
package func counted(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(count) " + pluralized(singular, count: count, plural)
}

/// The noun alone, in the form `count` wants: "message" for 1, "messages" otherwise.
package func pluralized(_ singular: String, count: Int, _ plural: String? = nil) -> String {
    if count == 1 { return singular }
    if let plural { return plural }
    let lower = singular.lowercased()
    if ["s", "x", "z", "ch", "sh"].contains(where: { lower.hasSuffix($0) }) { return singular + "es" }
    if lower.hasSuffix("y"), let before = lower.dropLast().last, !"aeiou".contains(before) {
        return singular.dropLast() + "ies"
    }
    return singular + "s"
}
