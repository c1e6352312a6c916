import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// `CAFile`: what a plan's `caFile` must be before a run connects anywhere (issue 19, point 5).
@Suite struct CAFileTests {
    @Test func aRealBundleCountsItsCertificates() throws {
        let pki = try FakePKI.shared()
        #expect(try CAFile.inspect(pki.caFile).get() == 1)
        let folder = TempFolder("cafile")
        defer { folder.cleanup() }
        // Two certificates with text around them, as a system bundle has.
        let two =
            "# the test CA\n" + (try String(contentsOfFile: pki.caFile, encoding: .utf8)) + "\nnotes\n"
            + (try String(contentsOfFile: pki.certificateFile(.good), encoding: .utf8))
        #expect(try CAFile.inspect(folder.file("two.pem", two)).get() == 2)
        #expect(CAFile.problem(folder.file("again.pem", two)) == nil)
    }

    @Test func whatIsNoBundleIsNamed() throws {
        let pki = try FakePKI.shared()
        let folder = TempFolder("cafile-bad")
        defer { folder.cleanup() }
        let good = try String(contentsOfFile: pki.caFile, encoding: .utf8)
        let cases: [(String, String)] = [
            (folder.file("empty.pem", ""), "the file is empty: it holds no PEM certificate"),
            (
                folder.file("garbage.pem", "this is not a certificate\n"),
                "it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"
            ),
            // A private key is PEM too, but no certificate.
            (
                folder.file("key.pem", try String(contentsOfFile: pki.keyFile(.good), encoding: .utf8)),
                "it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"
            ),
            (
                folder.file("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA////\n-----END CERTIFICATE-----\n"),
                "certificate 1 (CERTIFICATE) is not a valid certificate"
            ),
            (
                folder.file("cut.pem", good + String(good.prefix(200))),
                "certificate 2 (CERTIFICATE) is not a valid certificate"
            ),
            (folder.path + "/missing.pem", "cannot read it: No such file or directory"),
            (folder.path, "cannot read it: it is not a readable file"),
        ]
        for (path, problem) in cases {
            #expect(CAFile.problem(path) == problem, "\(path)")
        }
    }
}
