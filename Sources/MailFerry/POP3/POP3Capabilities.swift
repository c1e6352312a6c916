/// What a POP3 server says it can do (CAPA, RFC 2449 §5). Servers without CAPA get the empty set, and we then
/// try UIDL anyway (RFC 1939 lists it as optional but nearly every server has it).
struct POP3Capabilities: Equatable, Sendable {
    var known: Bool = false
    var names: Set<String> = []
    var saslMechanisms: [String] = []
    /// LOGIN-DELAY in seconds (RFC 2449 §6.5), if announced.
    var loginDelay: Int?
    /// EXPIRE in days or "NEVER" (RFC 2449 §6.7).
    var expire: String?
    var implementation: String?

    var stls: Bool { names.contains("STLS") }
    var user: Bool { names.contains("USER") }
    var uidl: Bool { names.contains("UIDL") }
    var pipelining: Bool { names.contains("PIPELINING") }

    /// Parses the lines of a CAPA response (without the terminator).
    static func parse(_ lines: [[UInt8]]) -> POP3Capabilities {
        var caps = POP3Capabilities(known: true)
        for line in lines {
            let words = String(decoding: line, as: UTF8.self).split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            let name = first.uppercased()
            caps.names.insert(name)
            let args = Array(words.dropFirst())
            switch name {
            case "SASL": caps.saslMechanisms = args.map { $0.uppercased() }
            case "LOGIN-DELAY": caps.loginDelay = args.first.flatMap { Int($0) }
            case "EXPIRE": caps.expire = args.first
            case "IMPLEMENTATION": caps.implementation = sanitizeForDisplay(args.joined(separator: " "), limit: 80)
            default: break
            }
        }
        return caps
    }
}
