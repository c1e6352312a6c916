import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Nothing a message says can steer a file outside a Maildir target's root (SECURITY.md, "Containment"): values
/// filled into a target path are single safe folder names, hostile recovered recipients go to the fallback with
/// their reason, plan and CSV values that would escape are refused with their place, and no write goes through a
/// symbolic link below the root.
@Suite struct ContainmentTests {
    @Test func aLocationKeepsTheRootAndFillsOneFolderPerValue() throws {
        let location = try MaildirLocation.resolve(
            "/srv/mail/{domain}/{local}/Maildir",
            values: ["domain": "contoso.example", "local": "chris"])
        #expect(location.root == "/srv/mail")
        #expect(location.below == ["contoso.example", "chris", "Maildir"])
        #expect(location.path == "/srv/mail/contoso.example/chris/Maildir")
        let plain = try MaildirLocation(path: "/srv/archive/Maildir")
        #expect(plain.root == "/srv/archive" && plain.below == ["Maildir"])
        let error = #expect(throws: MailError.self) {
            _ = try MaildirLocation.resolve("/srv/mail/{mailbox}", values: ["mailbox": "../../etc"])
        }
        #expect(error?.message.contains("{mailbox} = \"../../etc\" cannot be a folder name") == true)
        #expect(throws: MailError.self) { _ = try MaildirLocation.resolve("/srv/../etc/{mailbox}", values: [:]) }
        #expect(throws: MailError.self) {
            _ = try MaildirLocation.resolve(
                "/srv/mail/{local}{local}", values: ["local": String(repeating: "x", count: 150)])
        }
    }

    /// A symbolic link where new/ (or a folder below the root) should be is refused; nothing is written through it.
    @Test(arguments: ["new", "tmp", "cur", "person"])
    func aSymlinkBelowTheRootIsRefused(_ which: String) throws {
        let dir = TempFolder("containment-link")
        defer { dir.cleanup() }
        let elsewhere = dir.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let maildir = dir.path + "/root/person"
        if which == "person" {
            try FileManager.default.createDirectory(atPath: dir.path + "/root", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: maildir, withDestinationPath: elsewhere)
        } else {
            for sub in ["tmp", "new", "cur"] where sub != which {
                try FileManager.default.createDirectory(atPath: maildir + "/" + sub, withIntermediateDirectories: true)
            }
            try FileManager.default.createSymbolicLink(atPath: maildir + "/" + which, withDestinationPath: elsewhere)
        }
        let error = #expect(throws: MailError.self) {
            let delivery = try MaildirDelivery(
                location: MaildirLocation.resolve(
                    dir.path + "/root/{local}",
                    values: ["local": "person"]))
            _ = try delivery.deliver(
                DeliveryRequest(
                    token: "1.Mlink.mailferry", spool: try makeSpool(dir, Array("x".utf8)),
                    arrival: Date()))
        }
        #expect(error?.message.contains("is a symbolic link; refused") == true, "\(String(describing: error))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        // check says so too.
        let checked = Checker.checkMaildir(
            try MaildirLocation.resolve(
                dir.path + "/root/{local}",
                values: ["local": "person"]))
        guard case .failure(let failure) = checked else {
            Issue.record("check passed a Maildir with a symbolic link")
            return
        }
        #expect(failure.message.contains("symbolic link"))
    }
}
