import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

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
        let ref = try maildir.deliver(
            DeliveryRequest(
                token: "1700000000.Mabc.mailferry", spool: message,
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
        _ = FileManager.default.createFile(
            atPath: root + "/tmp/" + name, contents: Data("Subj".utf8),
            attributes: [.posixPermissions: 0o444])
        let ref = try maildir.deliver(
            DeliveryRequest(
                token: "1.Mleft.mailferry", spool: try spool(dir, text),
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
        _ = try maildir.deliver(
            DeliveryRequest(
                token: "1.Ma.mailferry", spool: try spool(dir, "a"),
                arrival: Date()))
        _ = try maildir.deliver(
            DeliveryRequest(
                token: "1.Mb.mailferry", spool: try spool(dir, "b"),
                arrival: Date()))
        // A reader moved b to cur/ and flagged it; c died in tmp/ before its rename.
        try FileManager.default.moveItem(
            atPath: root + "/new/1.Mb.mailferry,S=1",
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
    /// A message too large for the spool's buffer (on disk) is renamed into tmp/ instead of copied; the spool still
    /// reads it, and its next message starts a new file that never touches the delivered one. Staged and unstaged.
    @Test(arguments: [1, MaildirDelivery.runBatch])
    func aSpooledMessageIsHandedOverWhole(stagingLimit: Int) throws {
        let dir = TempFolder("maildir-handover")
        defer { dir.cleanup() }
        let maildir = try MaildirDelivery(root: dir.path + "/Maildir", stagingLimit: stagingLimit)
        let body = String(repeating: "a line of a long message body\r\n", count: 20_000)  // 600 KB
        let text = "Subject: big\r\n\r\n" + body
        let spoolPath = dir.path + "/spool-big"
        let message = try SpoolFile(path: spoolPath)
        try Array(text.utf8).withUnsafeBytes { try message.append($0) }
        try message.finish()
        let arrival = Date(timeIntervalSince1970: 1_700_000_000)
        let result = try maildir.deliverToAll(
            DeliveryRequest(
                token: "1700000000.Mbig.mailferry", spool: message,
                arrival: arrival, mayStage: true))
        #expect(result.staged == (stagingLimit > 1))
        #expect(!FileManager.default.fileExists(atPath: spoolPath), "renamed, not copied")
        var reread: [UInt8] = []
        try message.readChunks { reread += $0 }
        #expect(reread == Array(text.utf8))
        // The next message: the spool starts a new file; the delivered one keeps every byte.
        try message.rewind()
        try Array("Subject: next\r\n\r\nx\r\n".utf8).withUnsafeBytes { try message.append($0) }
        try message.finish()
        #expect(try maildir.flush().count == (stagingLimit > 1 ? 1 : 0))
        let path = dir.path + "/Maildir/" + result.reference
        #expect(FileManager.default.contents(atPath: path) == Data(text.utf8))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.modificationDate] as? Date) == arrival)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/Maildir/tmp").isEmpty)
        message.discard()
        #expect(FileManager.default.contents(atPath: path) == Data(text.utf8))
    }

    /// Where the spool and the Maildir are on different file systems (/dev/shm is tmpfs here) the rename fails
    /// with EXDEV and the message is copied: same bytes, the spool file stays where it was.
    @Test func aSpoolOnAnotherFileSystemIsCopied() throws {
        let dir = TempFolder("maildir-handover")
        defer { dir.cleanup() }
        let shm = "/dev/shm/mailferry-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        var shmInfo = stat()
        var tmpInfo = stat()
        #expect(stat(shm, &shmInfo) == 0 && stat(dir.path, &tmpInfo) == 0)
        let maildir = try MaildirDelivery(root: dir.path + "/Maildir")
        let text = "Subject: big\r\n\r\n" + String(repeating: "0123456789abcdef\r\n", count: 30_000)
        let message = try SpoolFile(path: shm + "/spool")
        try Array(text.utf8).withUnsafeBytes { try message.append($0) }
        try message.finish()
        let reference = try maildir.deliver(
            DeliveryRequest(
                token: "1700000000.Mcopy.mailferry", spool: message,
                arrival: Date()))
        #expect(FileManager.default.contents(atPath: dir.path + "/Maildir/" + reference) == Data(text.utf8))
        #expect(FileManager.default.fileExists(atPath: shm + "/spool") == (shmInfo.st_dev != tmpInfo.st_dev))
        message.discard()
    }
}
