import Foundation

/// A throwaway PKI for one lab: a self-signed CA and a server certificate it signed, made with the openssl CLI.
///
/// A real chain (rather than one self-signed server certificate) lets tests exercise what clients do in the field:
/// trust a CA file, verify the chain, and match the host name or IP against subjectAltName (RFC 6125). P-256 keys
/// because generating them takes milliseconds, where RSA 2048 costs a noticeable part of a lab's start time.
enum LabCertificates {
    static let caCommonName = "mailferry lab CA"

    static func generate(in layout: LabLayout) throws {
        guard let openssl = Subprocess.locate("openssl") else {
            throw LabError("the openssl CLI was not found on PATH; install the openssl package")
        }
        let directory = layout.tls
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let caKey = directory.appendingPathComponent("ca.key")
        let request = directory.appendingPathComponent("server.csr")
        let extensions = directory.appendingPathComponent("server.ext")
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        try run(
            openssl,
            ["req", "-x509"] + curve + [
                "-keyout", caKey.path, "-out", layout.caFile.path, "-days", "3650", "-subj", "/CN=\(caCommonName)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ], in: directory)
        try run(
            openssl,
            ["req", "-new"] + curve + [
                "-keyout", layout.serverKey.path, "-out", request.path, "-subj", "/CN=localhost",
            ], in: directory)
        try Data(
            """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

            """.utf8
        ).write(to: extensions)
        // A random serial: clients that cache certificates by issuer and serial must not confuse two labs.
        let serial = "0x" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        try run(
            openssl,
            [
                "x509", "-req", "-in", request.path, "-CA", layout.caFile.path, "-CAkey", caKey.path,
                "-set_serial", serial, "-days", "825", "-extfile", extensions.path, "-out",
                layout.serverCertificate.path,
            ], in: directory)
        // The CA file is what tests hand to clients, whatever uid they run as; the keys stay private all the same.
        let files = FileManager.default
        try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: layout.caFile.path)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: caKey.path)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: layout.serverKey.path)
    }

    private static func run(_ openssl: URL, _ arguments: [String], in directory: URL) throws {
        let outcome = try Subprocess.run(
            openssl, arguments, outputFile: directory.appendingPathComponent("openssl.out"))
        guard outcome.status == 0 else {
            throw LabError(
                "openssl \(arguments.first ?? "") exited with status \(outcome.status)", details: outcome.output)
        }
    }
}
