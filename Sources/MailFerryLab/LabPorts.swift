import Foundation

/// The TCP ports of one lab, all on 127.0.0.1.
public struct LabPorts: Sendable, Hashable, Codable {
    /// POP3 without TLS; offers STLS (RFC 2595 §4).
    public var pop3: Int
    /// POP3 over implicit TLS (RFC 8314 §3.3).
    public var pop3s: Int
    /// IMAP without TLS; offers STARTTLS (RFC 9051 §6.2.1).
    public var imap: Int
    /// IMAP over implicit TLS.
    public var imaps: Int
    /// LMTP over TCP (RFC 2033); no TLS.
    public var lmtp: Int

    public init(pop3: Int, pop3s: Int, imap: Int, imaps: Int, lmtp: Int) {
        self.pop3 = pop3
        self.pop3s = pop3s
        self.imap = imap
        self.imaps = imaps
        self.lmtp = lmtp
    }

    /// Every port with the name the CLI prints it under, in a fixed order.
    public var named: [(name: String, port: Int)] {
        [("pop3", pop3), ("pop3s", pop3s), ("imap", imap), ("imaps", imaps), ("lmtp", lmtp)]
    }

    /// Five distinct ports that were free a moment ago.
    ///
    /// The kernel picks them (bind to port 0 on 127.0.0.1); all five sockets stay open until the last is picked so
    /// the five differ. Another process may still take one before Dovecot binds it, which is why
    /// `DovecotLab.start` retries with fresh ports when Dovecot reports "Address already in use".
    public static func free() throws -> LabPorts {
        let ports = try LoopbackSocket.freePorts(count: 5)
        return LabPorts(pop3: ports[0], pop3s: ports[1], imap: ports[2], imaps: ports[3], lmtp: ports[4])
    }
}
