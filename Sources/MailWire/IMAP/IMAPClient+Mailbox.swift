import Foundation
import MailCore
import MailSystem

extension IMAPClient {
    /// The server's hierarchy delimiter (RFC 9051 §6.3.9: LIST "" "" answers with it), nil for a flat server.
    package func hierarchyDelimiter() throws -> String? {
        let reply = try guarded { try command("LIST \"\" \"\"") }
        guard reply.tagged.status == .ok, let list = reply.untagged.first(where: { $0.name == "LIST" }) else {
            return nil
        }
        return Self.listDelimiter(list.text)
    }

    /// The delimiter field of a LIST response text ("(\Noselect) "/" """): a quoted character or NIL.
    static func listDelimiter(_ text: String) -> String? {
        guard let close = text.firstIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].drop { $0 == " " }
        if rest.uppercased().hasPrefix("NIL") { return nil }
        guard rest.first == "\"" else { return nil }
        var body = rest.dropFirst()
        if body.first == "\\" { body = body.dropFirst() }
        return body.first.map(String.init)
    }

    /// The plan's folder as this server names it: "/" in the plan separates levels and becomes the server's
    /// delimiter ("Archive/2024" is "Archive.2024" on a Dovecot with the Maildir++ layout); then modified UTF-7.
    package func wireName(of folder: String, delimiter: String?) -> String {
        var name = folder
        if let delimiter, delimiter != "/" { name = name.replacingOccurrences(of: "/", with: delimiter) }
        return IMAPString.modifiedUTF7(name)
    }

    /// Whether the folder exists (LIST with the exact name; RFC 9051 §6.3.9). INBOX always does.
    package func folderExists(_ wireName: String) throws -> Bool {
        if wireName.uppercased() == "INBOX" { return true }
        let reply = try guarded {
            try command([.text("LIST \"\" "), Self.astring(wireName)], traceAs: "LIST \"\" \(wireName)")
        }
        guard reply.tagged.status == .ok else {
            throw classify(reply.tagged, doing: "LIST \(wireName)").context("imap \(endpoint.label)")
        }
        return reply.untagged.contains { response in
            guard response.name == "LIST" else { return false }
            // \NonExistent (RFC 5258) or \Noselect: a name in the tree, not a folder messages can go to.
            let attributes = response.text.prefix { $0 != ")" }.lowercased()
            return !attributes.contains("\\nonexistent") && !attributes.contains("\\noselect")
        }
    }

    /// CREATE (RFC 9051 §6.3.4), then SUBSCRIBE so mail programs that show subscribed folders only show it too.
    /// A folder that meanwhile exists ([ALREADYEXISTS], RFC 5530) is fine.
    package func createFolder(_ wireName: String) throws {
        let reply = try guarded {
            try command([.text("CREATE "), Self.astring(wireName)], traceAs: "CREATE \(wireName)")
        }
        if reply.tagged.status != .ok && reply.tagged.code != .alreadyExists {
            throw classify(reply.tagged, doing: "CREATE \(wireName)", defaultKind: .permanent)
                .context("imap \(endpoint.label)")
        }
        _ = try guarded {
            try command([.text("SUBSCRIBE "), Self.astring(wireName)], traceAs: "SUBSCRIBE \(wireName)")
        }
    }

    /// EXAMINE (RFC 9051 §6.3.3): opens the folder read-only and returns its UIDVALIDITY. Nil when it does not exist.
    package func examine(_ wireName: String) throws -> UInt32? {
        let reply = try guarded {
            try command([.text("EXAMINE "), Self.astring(wireName)], traceAs: "EXAMINE \(wireName)")
        }
        guard reply.tagged.status == .ok else {
            if reply.tagged.code == .nonExistent || reply.tagged.code == .tryCreate || reply.tagged.code == nil {
                state = .authenticated
                return nil
            }
            throw classify(reply.tagged, doing: "EXAMINE \(wireName)").context("imap \(endpoint.label)")
        }
        state = .selected(wireName)
        let validity = reply.untagged.first { $0.code == .uidValidity }
        return validity.flatMap { UInt32($0.codeArguments.prefix { $0 != " " }) } ?? 0
    }

    /// UID SEARCH (RFC 9051 §6.4.4) for messages whose header `field` contains `value`; the UIDs found.
    package func searchHeader(_ field: String, _ value: String) throws -> [UInt32] {
        guard let quoted = IMAPString.quoted(value) else { return [] }
        let reply = try guarded { try command("UID SEARCH HEADER \(field) \(quoted)") }
        guard reply.tagged.status == .ok else {
            throw classify(reply.tagged, doing: "SEARCH").context("imap \(endpoint.label)")
        }
        var uids: [UInt32] = []
        for response in reply.untagged where response.name == "SEARCH" || response.name == "ESEARCH" {
            uids += response.text.split(separator: " ").compactMap { UInt32($0) }
        }
        return uids
    }

    /// UID FETCH (RFC822.SIZE) for `uids`: UID → size.
    package func sizes(of uids: [UInt32]) throws -> [UInt32: Int] {
        guard !uids.isEmpty else { return [:] }
        let set = uids.prefix(1000).map(String.init).joined(separator: ",")
        let reply = try guarded { try command("UID FETCH \(set) (RFC822.SIZE)") }
        guard reply.tagged.status == .ok else {
            throw classify(reply.tagged, doing: "FETCH").context("imap \(endpoint.label)")
        }
        var result: [UInt32: Int] = [:]
        for response in reply.untagged where response.name == "FETCH" {
            let words = response.text.replacingOccurrences(of: "(", with: " ").replacingOccurrences(of: ")", with: " ")
                .split(separator: " ").map { $0.uppercased() }
            var uid: UInt32?
            var size: Int?
            for (index, word) in words.enumerated() where index + 1 < words.count {
                if word == "UID" { uid = UInt32(words[index + 1]) }
                if word == "RFC822.SIZE" { size = Int(words[index + 1]) }
            }
            if let uid, let size { result[uid] = size }
        }
        return result
    }

    /// NOOP (RFC 9051 §6.1.2): whether the session still answers.
    package func isAlive() -> Bool {
        guard isUsable, let reply = try? guarded({ try command("NOOP") }) else { return false }
        return reply.tagged.status == .ok
    }
}
