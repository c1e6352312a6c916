import MailCore
import MailSystem

/// What a POP3 server says it can do (CAPA, RFC 2449 §5). Servers without CAPA get the empty set, and we then
/// try UIDL anyway (RFC 1939 lists it as optional but nearly every server has it).
public struct POP3Capabilities: Equatable, Sendable {
    public var known: Bool = false
    public var names: Set<String> = []
    public var saslMechanisms: [String] = []
    /// LOGIN-DELAY in seconds (RFC 2449 §6.5), if announced.
    public var loginDelay: Int?
    /// EXPIRE in days or "NEVER" (RFC 2449 §6.7).
    public var expire: String?
    public var implementation: String?
    /// UTF8 with its USER argument (RFC 6856 §2): after the UTF8 command, USER and PASS take UTF-8.
    public var utf8User = false

    /// Nothing learned yet (before CAPA, or a server without it).
    package init() {}

    public var stls: Bool { names.contains("STLS") }
    public var user: Bool { names.contains("USER") }
    public var uidl: Bool { names.contains("UIDL") }
    public var pipelining: Bool { names.contains("PIPELINING") }
    /// EXPIRE 0 (RFC 2449 §6.7): the server deletes what we retrieve, taking it from the person still reading it.
    public var expireZero: Bool { expire == "0" }

    /// The capabilities worth showing an admin (`check`, reports).
    public var notable: [String] {
        ["UIDL", "PIPELINING", "STLS", "TOP", "USER"].filter(names.contains)
            + (loginDelay.map { ["LOGIN-DELAY \($0)"] } ?? [])
            + (expire.map { ["EXPIRE \($0)"] } ?? [])
            + (saslMechanisms.isEmpty ? [] : ["SASL " + saslMechanisms.joined(separator: " ")])
    }

    /// Parses the lines of a CAPA response (without the terminator).
    public static func parse(_ lines: [[UInt8]]) -> POP3Capabilities {
        var caps = POP3Capabilities()
        caps.known = true
        for line in lines {
            let words = String(decoding: line, as: UTF8.self).split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            let name = first.uppercased()
            caps.names.insert(name)
            let args = Array(words.dropFirst())
            switch name {
            // Only well-formed arguments are kept: they are shown to admins (`check`, reports), and a server's
            // escape sequences must not reach a terminal (found by the POP3 fuzz target).
            case "SASL": caps.saslMechanisms = args.map { $0.uppercased() }.filter(isSASLMechanismName)
            case "LOGIN-DELAY": caps.loginDelay = args.first.flatMap { Int($0) }
            case "EXPIRE": caps.expire = args.first.flatMap { $0 == "NEVER" || Int($0) != nil ? $0 : nil }
            case "EXPIRENEVER": caps.expire = "NEVER"  // GNU Mailutils writes it without the space
            case "UTF8": caps.utf8User = args.contains { $0.uppercased() == "USER" }
            case "IMPLEMENTATION": caps.implementation = sanitizeForDisplay(args.joined(separator: " "), limit: 80)
            default: break
            }
        }
        return caps
    }
}

/// RFC 4422 §3.1: a mechanism name is 1 to 20 characters from A-Z, 0-9, "-" and "_".
func isSASLMechanismName(_ name: String) -> Bool {
    (1...20).contains(name.utf8.count)
        && name.utf8.allSatisfy {
            (65...90).contains($0) || (48...57).contains($0)
                || $0 == 45 || $0 == 95
        }
}
