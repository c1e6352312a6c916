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

    public init(host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
                allowPlaintext: Bool = false, timeout: Double = 60, socketPath: String? = nil,
                pipelineWindow: Int = ServerEndpoint.defaultPipelineWindow) {
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

    func open() throws -> Connection {
        if let socketPath {
            return Connection(socket: try Socket.connectUnix(path: socketPath, timeout: timeout))
        }
        return try Connection.open(host: host, port: port, timeout: timeout)
    }
}
