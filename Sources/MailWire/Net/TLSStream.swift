import COpenSSL
import Foundation
import Glibc
import MailCore
import MailSystem

/// How a connection is secured. Names match the plan's `tls` key.
public enum TLSMode: String, Sendable, Codable, CaseIterable {
    /// TLS from the first byte (POP3S 995, IMAPS 993, SMTPS 465).
    case implicit
    /// Plain connection upgraded with STLS / STARTTLS; the upgrade is mandatory.
    case starttls
    /// No TLS at all: only with `allowPlaintext` in the plan.
    case none
}

/// What to trust when verifying a server's certificate.
public struct TLSSettings: Sendable, Equatable {
    /// PEM bundle of trusted CAs; nil means the system store.
    public var caFile: String?
    /// The certificate the server must present (the plan's `tlsFingerprint`). Without `caFile` it replaces chain and
    /// name verification: the pin names the one certificate accepted, so a self-signed or expired one is taken when
    /// it is that one. With `caFile` both must hold.
    public var fingerprint: CertificateFingerprint?

    public init(caFile: String? = nil, fingerprint: CertificateFingerprint? = nil) {
        self.caFile = caFile
        self.fingerprint = fingerprint
    }

    /// A pin and no CA file: the pin alone decides.
    var pinOnly: Bool { fingerprint != nil && caFile == nil }
}

/// What the handshake negotiated, for `check` output and reports.
public struct TLSInfo: Sendable, Equatable {
    public var version: String
    public var cipher: String
    public var peerSubject: String
    /// The SHA-256 of the certificate the server presented, for `check` to print so the admin can pin it.
    public var fingerprint: CertificateFingerprint?
}

/// TLS over a connected socket (OpenSSL). Certificate chain and host name are verified unless a pinned fingerprint
/// replaces them; TLS 1.2 is the floor; renegotiation is refused (`SSL_OP_NO_RENEGOTIATION`), and a server asking for
/// it ends the session.
final class TLSStream: ByteStream {
    private let ssl: OpaquePointer
    private let context: OpaquePointer
    private let socket: Socket
    private let host: String
    private let watch: HandshakeWatch
    private var closed = false
    let info: TLSInfo

    /// Performs the client handshake on `socket` against `host` (already in ASCII: `ServerEndpoint.asciiHost`); throws
    /// `MailError(.tls)` with a readable reason.
    init(socket: Socket, host: String, settings: TLSSettings) throws {
        self.socket = socket
        self.host = host
        let watch = HandshakeWatch()
        self.watch = watch
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw MailError(.tls, "cannot create TLS context: \(TLSStream.drainErrors())")
        }
        context = ctx
        _ = mf_SSL_CTX_set_min_proto_version(ctx, mf_TLS1_2_VERSION())
        _ = mf_SSL_CTX_set_mode(ctx, mf_SSL_MODE_AUTO_RETRY())
        // RFC 5746 made renegotiation safe from splicing, not harmless: a server (or whoever holds its key) could
        // change the certificate or the cipher mid-session. Nothing here needs it, so a HelloRequest is refused.
        _ = SSL_CTX_set_options(ctx, mf_SSL_OP_NO_RENEGOTIATION())
        SSL_CTX_set_verify(ctx, settings.pinOnly ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nil)
        if !settings.pinOnly {
            if let caFile = settings.caFile {
                guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                    SSL_CTX_free(ctx)
                    throw MailError(.tls, "cannot load CA file \(caFile): \(TLSStream.drainErrors())")
                }
            } else {
                SSL_CTX_set_default_verify_paths(ctx)
            }
        }
        guard let ssl = SSL_new(ctx) else {
            SSL_CTX_free(ctx)
            throw MailError(.tls, "cannot create TLS session: \(TLSStream.drainErrors())")
        }
        self.ssl = ssl
        SSL_set_fd(ssl, socket.fd)
        watch.attach(to: ssl)
        if HostName.isIPAddress(host) {
            // An address is matched against the certificate's IP SANs, never sent as SNI (RFC 6066 §3).
            if !settings.pinOnly { X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) }
        } else {
            _ = mf_SSL_set_tlsext_host_name(ssl, host)
            if !settings.pinOnly { SSL_set1_host(ssl, host) }
        }
        ERR_clear_error()
        let rc = SSL_connect(ssl)
        var failure: MailError?
        if rc != 1 {
            failure = TLSStream.handshakeFailure(ssl: ssl, rc: rc, host: host)
        } else {
            failure = TLSStream.pinMismatch(ssl: ssl, settings: settings)
        }
        if let failure {
            SSL_free(ssl)
            SSL_CTX_free(ctx)
            throw failure
        }
        info = TLSStream.describe(ssl)
    }

    deinit {
        close()
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// A server that asked to renegotiate (a HelloRequest, TLS 1.2 and older) is refused by OpenSSL with a
    /// no_renegotiation alert; mailferry then ends the session itself rather than wait for what the server does next.
    private func checkRenegotiation() throws {
        guard watch.renegotiationRequested else { return }
        throw MailError(
            .tls,
            "\(socket.peer) asked to renegotiate TLS, which mailferry refuses (a renegotiation could change the "
                + "certificate mid-session); the session is ended and nothing more is sent on it")
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try checkRenegotiation()
        // Decrypted bytes may already wait inside OpenSSL; only an empty session waits on the socket.
        if SSL_pending(ssl) == 0 { try socket.waitReadable() }
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        try checkRenegotiation()
        if n > 0 { return Int(n) }
        let error = SSL_get_error(ssl, n)
        switch error {
        case SSL_ERROR_ZERO_RETURN:
            return 0
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            // The socket has a receive timeout; OpenSSL reports its EAGAIN this way.
            throw MailError(.transient, "timed out waiting for \(socket.peer)")
        case SSL_ERROR_SYSCALL where errno == EAGAIN || errno == EWOULDBLOCK:
            throw MailError(.transient, "timed out waiting for \(socket.peer)")
        default:
            let detail = TLSStream.drainErrors()
            if detail.contains("unexpected eof") { return 0 }
            throw MailError(.transient, "TLS read from \(socket.peer) failed: \(detail.isEmpty ? errnoText() : detail)")
        }
    }

    /// What has already arrived, decrypted, without waiting: nil when nothing has (records that carry no data, such
    /// as TLS 1.3 session tickets, are processed and give nil), 0 at the end of the stream.
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try checkRenegotiation()
        if SSL_pending(ssl) == 0 {
            var pfd = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0 else { return nil }
        }
        let flags = fcntl(socket.fd, F_GETFL)
        _ = fcntl(socket.fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(socket.fd, F_SETFL, flags) }
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        try checkRenegotiation()
        if n > 0 { return Int(n) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return nil
        case SSL_ERROR_ZERO_RETURN:
            return 0
        case SSL_ERROR_SYSCALL where errno == EAGAIN || errno == EWOULDBLOCK:
            return nil
        default:
            let detail = TLSStream.drainErrors()
            if detail.isEmpty || detail.contains("unexpected eof") { return 0 }
            throw MailError(.transient, "TLS read from \(socket.peer) failed: \(detail)")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try checkRenegotiation()
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let chunk = Int32(min(bytes.count - offset, 1 << 20))
            let n = SSL_write(ssl, bytes.baseAddress! + offset, chunk)
            if n > 0 {
                offset += Int(n)
                continue
            }
            try checkRenegotiation()
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ {
                throw MailError(.transient, "timed out writing to \(socket.peer)")
            }
            throw MailError(.transient, "TLS write to \(socket.peer) failed: \(TLSStream.drainErrors())")
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        // A bounded, one-sided close_notify; we do not wait for the peer's.
        _ = SSL_shutdown(ssl)
        socket.close()
    }
}
