import Foundation
import MailCore
import MailSystem

/// Where and how to reach a server: the plan's POP3 sources and its IMAP, LMTP and SMTP targets, and the clients that
/// talk to them.
public struct ServerEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var tls: TLSMode
    public var tlsSettings: TLSSettings
    /// Permits credentials in clear on a `tls: none` connection. Without it the client refuses before sending any.
    public var allowPlaintext: Bool
    /// Seconds for connect, the TLS handshake and each read or write.
    public var timeout: Double
    /// A Unix socket path (LMTP only); host and port then only name the peer in messages.
    public var socketPath: String?
    /// Commands sent ahead of their replies when the server announces PIPELINING (RFC 2449 §6.6); 1 turns it off.
    /// Only the POP3 client reads it.
    public var pipelineWindow: Int

    /// How many RETRs a POP3 session keeps in flight unless the plan turns pipelining off.
    public static let defaultPipelineWindow = 16

    public init(
        host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
        allowPlaintext: Bool = false, timeout: Double = 60, socketPath: String? = nil,
        pipelineWindow: Int = ServerEndpoint.defaultPipelineWindow
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.tlsSettings = tlsSettings
        self.allowPlaintext = allowPlaintext
        self.timeout = timeout
        self.socketPath = socketPath
        self.pipelineWindow = pipelineWindow
    }

    public var label: String { socketPath ?? "\(host):\(port)" }

    /// The host as DNS, SNI and certificate matching need it (RFC 5890, RFC 6125 §6.4.2): an internationalized name as
    /// its A-labels, an ASCII name or an address as it is (`HostName.ascii`). The plan validator refuses a name that
    /// cannot be converted, so here that is an error only for a caller that skipped it.
    public func asciiHost() throws -> String {
        do {
            return try HostName.ascii(host)
        } catch {
            throw MailError(.permanent, "the host name \(sanitizeForDisplay(host, limit: 100)) \(error.reason)")
        }
    }

    /// `asciiHost()` where an error has already been reported (connect checks it first): the A-label form, or the
    /// host as written.
    var dnsName: String { (try? HostName.ascii(host)) ?? host }

    /// Opens the connection every client starts from: TCP, or the Unix socket when there is one; with implicit TLS
    /// (RFC 8314) the handshake is done before the first byte is read, so even the greeting comes encrypted.
    func connect() throws -> Connection {
        let connection: Connection
        let name = try asciiHost()
        if let socketPath {
            connection = Connection(socket: try Socket.connectUnix(path: socketPath, timeout: timeout))
        } else {
            connection = try Connection.open(host: name, port: port, timeout: timeout)
        }
        if tls == .implicit {
            try connection.upgradeToTLS(host: name, settings: tlsSettings)
        }
        return connection
    }

    /// Turns a plain connection into TLS after the greeting, the same way for POP3 STLS (RFC 2595 §4), IMAP STARTTLS
    /// (RFC 9051 §6.2.1) and SMTP/LMTP STARTTLS (RFC 3207 §4): once `tls: starttls` is configured it is mandatory, so
    /// every way it can fail is a `.tls` error and nothing more goes over the connection in plaintext.
    ///
    /// - `unavailable`: why the server cannot do it ("the server does not offer it"), nil when it can.
    /// - `request`: sends the protocol's command; nil when the server agreed, else how it refused.
    /// - `relearn`: after the handshake, forgets what the server said in clear (a man in the middle could have
    ///   written it, RFC 2595 §4, RFC 3207 §4.2) and asks again over TLS.
    ///
    /// Bytes that arrive between the server's yes and the handshake abort the connection (`upgradeToTLS`).
    func startTLS(
        on connection: Connection, unavailable: String?, request: () throws -> String?,
        relearn: () throws -> Void
    ) throws {
        if let unavailable {
            throw MailError(.tls, "STARTTLS required but \(unavailable); refusing to continue in plaintext")
        }
        if let refusal = try request() {
            throw MailError(.tls, "\(refusal); refusing to continue in plaintext")
        }
        try connection.upgradeToTLS(host: dnsName, settings: tlsSettings)
        try relearn()
    }
}
