import Foundation
import Glibc

/// A certificate the fake server can present, each one a way for TLS verification to go right or wrong.
enum FakeCertificate: String, Sendable, CaseIterable {
    /// Signed by the test CA for IP:127.0.0.1 and DNS:localhost: what a correct server presents.
    case good
    /// Signed by the test CA, valid, but only for DNS:wrong.example (RFC 6125 name mismatch).
    case wrongHost
    /// Signed by the test CA for the right names, but valid only on 1 January 2020.
    case expired
    /// Valid and for the right names, but signed by a second CA the client was never told to trust.
    case unknownCA
    /// Valid and for the right names, but signed by its own key: what a legacy ISP often presents.
    case selfSigned
    /// Signed by the test CA for DNS:xn--bcher-kva.example only: the A-label of "bücher.example" (RFC 3492 §7.1's
    /// example domain), for certificate matching of an international host name.
    case international

    /// The A-label `international` is issued for, and the Unicode name it stands for.
    static let internationalALabel = "xn--bcher-kva.example"
    static let internationalName = "bücher.example"
}

/// Why the throwaway PKI could not be made; a String inside so the cached result stays `Sendable`.
struct FakePKIError: Error, CustomStringConvertible, Sendable {
    let description: String
}

/// A throwaway PKI for the fake server, made once per test process with the openssl CLI and cached.
///
/// The client trusts `caFile` (`TLSSettings(caFile:)`); every certificate but `.unknownCA` chains to it. P-256 keys,
/// because generating them takes milliseconds. The directory is removed when the test process exits.
struct FakePKI: Sendable {
    let directory: String

    /// The PEM file clients should trust.
    var caFile: String { directory + "/ca.pem" }

    func certificateFile(_ certificate: FakeCertificate) -> String { directory + "/\(certificate.rawValue).pem" }
    func keyFile(_ certificate: FakeCertificate) -> String { directory + "/\(certificate.rawValue).key" }

    /// "sha256:AB:CD:…" of the certificate, as `openssl x509 -fingerprint -sha256` computes it: an independent
    /// witness for what the client under test reports and pins.
    func fingerprint(_ certificate: FakeCertificate) throws -> String {
        try Self.fingerprint(ofPEM: certificateFile(certificate))
    }

    /// The same for any PEM certificate file (a lab's server certificate).
    static func fingerprint(ofPEM path: String) throws -> String {
        let output = NSTemporaryDirectory() + "mailferry-fingerprint-\(UUID().uuidString)"
        defer { unlink(output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "openssl x509 -in \"$0\" -noout -fingerprint -sha256 > \"$1\"", path, output]
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…" (older).
        guard process.terminationStatus == 0, let equals = text.firstIndex(of: "=") else {
            throw FakePKIError(description: "openssl x509 -fingerprint failed for \(path): \(text)")
        }
        return "sha256:" + text[text.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The process-wide PKI, generated on first use. Swift initializes the static once, even when tests race to it.
    static func shared() throws -> FakePKI {
        try cached.get()
    }

    private static let cached: Result<FakePKI, FakePKIError> = {
        do {
            return .success(try generate())
        } catch let error as FakePKIError {
            return .failure(error)
        } catch {
            return .failure(FakePKIError(description: "cannot create the fake server's certificates: \(error)"))
        }
    }()

    private static let directoryPath =
        NSTemporaryDirectory()
        + "mailferry-fake-pki-\(getpid())-\(UUID().uuidString.prefix(8))"

    private static func generate() throws -> FakePKI {
        let pki = FakePKI(directory: directoryPath)
        let files = FileManager.default
        try files.createDirectory(atPath: pki.directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FakePKI.directoryPath) }

        let caKey = pki.directory + "/ca.key"
        let otherCA = pki.directory + "/other-ca.pem"
        let otherCAKey = pki.directory + "/other-ca.key"
        try makeCA(commonName: "mailferry fake-server test CA", certificate: pki.caFile, key: caKey, in: pki)
        try makeCA(commonName: "mailferry untrusted CA", certificate: otherCA, key: otherCAKey, in: pki)

        let rightNames = try write("subjectAltName = DNS:localhost, IP:127.0.0.1\n", to: "right-names.ext", in: pki)
        let wrongNames = try write("subjectAltName = DNS:wrong.example\n", to: "wrong-names.ext", in: pki)
        let internationalNames = try write(
            "subjectAltName = DNS:\(FakeCertificate.internationalALabel)\n", to: "international-names.ext", in: pki)
        let leaves: [(FakeCertificate, String, caCertificate: String, caKey: String, extensions: String)] = [
            (.good, "localhost", pki.caFile, caKey, rightNames),
            (.wrongHost, "wrong.example", pki.caFile, caKey, wrongNames),
            (.unknownCA, "localhost", otherCA, otherCAKey, rightNames),
            (.international, FakeCertificate.internationalALabel, pki.caFile, caKey, internationalNames),
        ]
        for leaf in leaves {
            let request = try makeRequest(leaf.0, commonName: leaf.1, in: pki)
            // A random serial: a client caching certificates by issuer and serial must not mix up two test runs.
            try openssl(
                [
                    "x509", "-req", "-in", request, "-CA", leaf.caCertificate, "-CAkey", leaf.caKey,
                    "-set_serial", randomSerial(), "-days", "30", "-extfile", leaf.extensions,
                    "-out", pki.certificateFile(leaf.0),
                ], in: pki)
        }
        try makeExpired(caKey: caKey, extensions: rightNames, in: pki)
        // Self-signed: its own issuer, with the right names, and no CA above it.
        try openssl(
            ["req", "-x509"] + newKey + [
                "-keyout", pki.keyFile(.selfSigned), "-out", pki.certificateFile(.selfSigned), "-days", "30",
                "-subj", "/CN=localhost", "-addext", "subjectAltName = DNS:localhost, IP:127.0.0.1",
            ], in: pki)
        return pki
    }

    private static func makeCA(commonName: String, certificate: String, key: String, in pki: FakePKI) throws {
        try openssl(
            ["req", "-x509"] + newKey + [
                "-keyout", key, "-out", certificate, "-days", "3650", "-subj", "/CN=\(commonName)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ], in: pki)
    }

    private static func makeRequest(_ certificate: FakeCertificate, commonName: String, in pki: FakePKI) throws
        -> String
    {
        let request = pki.directory + "/\(certificate.rawValue).csr"
        try openssl(
            ["req", "-new"] + newKey + [
                "-keyout", pki.keyFile(certificate), "-out", request, "-subj", "/CN=\(commonName)",
            ], in: pki)
        return request
    }

    /// `openssl x509 -req` (OpenSSL 3.0) only counts days forward from now, so the expired certificate is signed with
    /// `openssl ca`, whose `-startdate`/`-enddate` take any dates; it needs a database and serial file, nothing else.
    private static func makeExpired(caKey: String, extensions: String, in pki: FakePKI) throws {
        let database = pki.directory + "/ca-db"
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        _ = try write("", to: "ca-db/index.txt", in: pki)
        _ = try write(String(randomSerial().dropFirst(2)) + "\n", to: "ca-db/serial", in: pki)
        let config = try write(
            """
            [ ca ]
            default_ca = fake
            [ fake ]
            database = \(database)/index.txt
            serial = \(database)/serial
            new_certs_dir = \(database)
            default_md = sha256
            policy = anything
            unique_subject = no
            [ anything ]
            commonName = supplied

            """, to: "ca.cnf", in: pki)
        let request = try makeRequest(.expired, commonName: "localhost", in: pki)
        try openssl(
            [
                "ca", "-batch", "-notext", "-config", config, "-cert", pki.caFile, "-keyfile", caKey,
                "-in", request, "-out", pki.certificateFile(.expired), "-extfile", extensions,
                "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            ], in: pki)
    }

    private static let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    /// An even number of hex digits, as `openssl ca` wants in its serial file.
    private static func randomSerial() -> String {
        "0x" + String(UInt64.random(in: 1 << 60...UInt64.max), radix: 16)
    }

    private static func write(_ text: String, to name: String, in pki: FakePKI) throws -> String {
        let path = pki.directory + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs the openssl CLI with output to a log file (never a pipe nobody drains) and a bounded wait.
    private static func openssl(_ arguments: [String], in pki: FakePKI) throws {
        let log = pki.directory + "/openssl.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let output = FileHandle(forWritingAtPath: log) else {
            throw FakePKIError(description: "cannot write \(log)")
        }
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline {
            usleep(10_000)
        }
        if process.isRunning {
            process.terminate()
            throw FakePKIError(description: "openssl \(arguments[0]) did not finish within 30 s")
        }
        guard process.terminationStatus == 0 else {
            let detail = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw FakePKIError(
                description: "openssl \(arguments.joined(separator: " ")) exited with status "
                    + "\(process.terminationStatus): \(detail)")
        }
    }
}
