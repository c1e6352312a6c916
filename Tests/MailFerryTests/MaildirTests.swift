import Foundation
import Testing
@testable import MailFerry

@Suite struct MaildirTests {
    func spool(_ dir: TempFolder, _ text: String) throws -> SpoolFile {
        let spool = try SpoolFile(path: dir.path + "/spool-\(UUID().uuidString)")
        try Array(text.utf8).withUnsafeBytes { try spool.append($0) }
        try spool.finish()
        return spool
    }

    @Test func deliversBytesExactlyWithArrivalTime() throws {
        let dir = TempFolder("maildir")
        defer { dir.cleanup() }
        let maildir = try MaildirDelivery(root: dir.path + "/Maildir")
        let text = "Subject: hi\r\n\r\nbody\r\n.\r\n"
        let message = try spool(dir, text)
        let arrival = Date(timeIntervalSince1970: 1_700_000_000)
        let ref = try maildir.deliver(DeliveryRequest(token: "1700000000.Mabc.mailferry", spool: message,
                                                      arrival: arrival))
        #expect(ref == "new/1700000000.Mabc.mailferry,S=\(text.utf8.count)")
        let path = dir.path + "/Maildir/" + ref
        #expect(FileManager.default.contents(atPath: path) == Data(text.utf8))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.modificationDate] as? Date) == arrival)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/Maildir/tmp").isEmpty)
        #expect(message.sha256 == SHA256Hasher.hex(Array(text.utf8)))
    }

    @Test func aLeftoverInTmpOfTheSameNameIsReplaced() throws {
        let dir = TempFolder("maildir")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root)
        let text = "Subject: again\r\n\r\nwhole\r\n"
        let name = "1.Mleft.mailferry,S=\(text.utf8.count)"
        // An attempt that died before its rename left part of the message in tmp/ (mode 0444: even unwritable).
        _ = FileManager.default.createFile(atPath: root + "/tmp/" + name, contents: Data("Subj".utf8),
                                           attributes: [.posixPermissions: 0o444])
        let ref = try maildir.deliver(DeliveryRequest(token: "1.Mleft.mailferry", spool: try spool(dir, text),
                                                      arrival: Date()))
        #expect(ref == "new/" + name)
        #expect(FileManager.default.contents(atPath: root + "/" + ref) == Data(text.utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
    }

    @Test func reconcileFindsLandedAttemptsInNewAndCur() throws {
        let dir = TempFolder("maildir")
        defer { dir.cleanup() }
        let root = dir.path + "/Maildir"
        let maildir = try MaildirDelivery(root: root)
        _ = try maildir.deliver(DeliveryRequest(token: "1.Ma.mailferry", spool: try spool(dir, "a"),
                                                arrival: Date()))
        _ = try maildir.deliver(DeliveryRequest(token: "1.Mb.mailferry", spool: try spool(dir, "b"),
                                                arrival: Date()))
        // A reader moved b to cur/ and flagged it; c died in tmp/ before its rename.
        try FileManager.default.moveItem(atPath: root + "/new/1.Mb.mailferry,S=1",
                                         toPath: root + "/cur/1.Mb.mailferry,S=1:2,S")
        _ = FileManager.default.createFile(atPath: root + "/tmp/1.Mc.mailferry,S=1", contents: Data("c".utf8))
        let found = try maildir.reconcile(tokens: ["1.Ma.mailferry", "1.Mb.mailferry", "1.Mc.mailferry"])
        #expect(found == ["1.Ma.mailferry": "new/1.Ma.mailferry,S=1", "1.Mb.mailferry": "cur/1.Mb.mailferry,S=1:2,S"])
        #expect(!FileManager.default.fileExists(atPath: root + "/tmp/1.Mc.mailferry,S=1"))
    }

    @Test func aFileWhereTheMaildirShouldBeIsAClearError() throws {
        let dir = TempFolder("maildir")
        defer { dir.cleanup() }
        let blocker = dir.file("Maildir", "not a folder")
        let error = #expect(throws: MailError.self) { _ = try MaildirDelivery(root: blocker) }
        #expect(error?.message.contains("is not a folder") == true)
    }
}
