import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// `tlsFingerprint`: without a CA file the pin alone decides (a self-signed or expired certificate is taken when it is
/// the pinned one); with one, chain, name and pin must all hold; a mismatch names both fingerprints and sends nothing.
/// The expected fingerprints come from the openssl CLI, not from the code under test.
@Suite struct CertificatePinningTests {
    static func endpoint(_ server: FakeServer, caFile: Bool, pin: String?) throws -> ServerEndpoint {
        ServerEndpoint(
            host: "127.0.0.1", port: server.port, tls: .implicit,
            tlsSettings: TLSSettings(
                caFile: caFile ? try FakePKI.shared().caFile : nil,
                fingerprint: pin.flatMap { CertificateFingerprint($0) }),
            timeout: 5)
    }

    /// A POP3S session up to the greeting and CAPA, then QUIT.
    static func greeting(_ certificate: FakeCertificate) -> [FakeStep] {
        [
            .startTLS(certificate), .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
            .respond(["QUIT": "+OK\r\n"]),
        ]
    }

    @Test(arguments: [FakeCertificate.selfSigned, .expired, .unknownCA, .wrongHost, .good])
    func aMatchingPinReplacesVerification(certificate: FakeCertificate) throws {
        let expected = try FakePKI.shared().fingerprint(certificate)
        let server = try FakeServer(steps: Self.greeting(certificate))
        let client = POP3Client(endpoint: try Self.endpoint(server, caFile: false, pin: expected))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        #expect(client.tlsInfo?.fingerprint?.description == expected)
        #expect(client.capabilities.user)
    }

    @Test func aMismatchIsRefusedWithBothFingerprintsAndNothingSent() throws {
        let pki = try FakePKI.shared()
        let pinned = try pki.fingerprint(.selfSigned)
        let presented = try pki.fingerprint(.good)
        let server = try FakeServer(.startTLS(.good))
        let client = POP3Client(endpoint: try Self.endpoint(server, caFile: true, pin: pinned))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        #expect(
            error?.message == "pop3 127.0.0.1:\(server.port): certificate fingerprint mismatch: the plan pins "
                + "\(pinned), the server presented \(presented); refusing the connection (if the ISP changed its "
                + "certificate, check the new one and update tlsFingerprint)")
        client.quit()
        server.finish()
        #expect(server.transcript.secured.isEmpty)
    }

    /// With a CA file the chain must hold too: the right pin does not rescue an expired certificate.
    @Test func withACAFileBothMustHold() throws {
        let pki = try FakePKI.shared()
        let expired = try FakeServer(.startTLSRejected(.expired))
        let client = POP3Client(endpoint: try Self.endpoint(expired, caFile: true, pin: try pki.fingerprint(.expired)))
        defer {
            client.quit()
            expired.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.message.contains("certificate verify failed: certificate has expired") == true)
        client.quit()
        expired.finish()

        let good = try FakeServer(steps: Self.greeting(.good))
        let pinned = POP3Client(endpoint: try Self.endpoint(good, caFile: true, pin: try pki.fingerprint(.good)))
        try pinned.connect()
        #expect(pinned.tlsInfo?.fingerprint?.description == (try pki.fingerprint(.good)))
        pinned.quit()
        good.finish()
    }

    /// A certificate that fails verification is named by its fingerprint, so the admin can compare it with what the
    /// ISP says and pin it.
    @Test func aRefusedCertificateIsNamedByItsFingerprint() throws {
        let server = try FakeServer(.startTLSRejected(.selfSigned))
        let client = POP3Client(endpoint: try Self.endpoint(server, caFile: true, pin: nil))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .tls)
        let fingerprint = try FakePKI.shared().fingerprint(.selfSigned)
        #expect(
            error?.message.contains(
                "certificate verify failed: self-signed certificate (the server presented the certificate "
                    + "\(fingerprint); if the ISP confirms it is theirs, the plan can pin it with tlsFingerprint)")
                == true, "\(error?.message ?? "")")
    }
}
