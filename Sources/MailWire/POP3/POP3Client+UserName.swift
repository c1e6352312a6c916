import MailCore
import MailSystem

/// User names beyond what USER can carry. RFC 1939 §7 gives USER and APOP the name as one argument, ended by a space
/// or the line, and in ASCII; a name with a space (common at ISPs that log in with "Firstname Lastname") would arrive
/// cut, and a name in UTF-8 is only defined once the server switched to UTF-8 (RFC 6856 §2: the UTF8 capability with
/// its USER argument, then the UTF8 command). SASL carries any name: PLAIN and LOGIN send it whole, in UTF-8
/// (RFC 4616 §2, RFC 5034), as do the OAuth mechanisms; CRAM-MD5 separates it from the digest with a space.
extension POP3Client {
    /// Whether `method` can carry `user` as it is written, on this server.
    func carries(_ method: POP3AuthMethod, user: String) -> Bool {
        let spaced = user.unicodeScalars.contains { $0 == " " || $0 == "\t" }
        let international = user.utf8.contains { $0 >= 0x80 }
        switch method {
        case .user: return !spaced && (!international || capabilities.utf8User)
        // RFC 6856 §2 wants APOP's digest over a SASLprep'd UTF-8 name and password; mailferry does not compute
        // SASLprep, so an international name never goes through APOP.
        case .apop: return !spaced && !international
        case .cramMD5: return !spaced
        case .plain, .login, .oauthbearer, .xoauth2: return true
        }
    }

    /// Why no method the server and the plan allow can carry `user`; thrown before anything is sent.
    func userNameRefusal(_ user: String, offered: [POP3AuthMethod]) -> MailError {
        let spaced = user.unicodeScalars.contains { $0 == " " || $0 == "\t" }
        let what = spaced ? "contains a space" : "is not ASCII"
        let could =
            spaced
            ? "SASL PLAIN or LOGIN" : "SASL PLAIN or LOGIN, or UTF8 with its USER argument (RFC 6856) for USER/PASS"
        return MailError(
            .auth,
            "the user name \"\(shown(user))\" \(what), which "
                + offered.map(\.shown).joined(separator: ", ")
                + " cannot carry; the server offers no \(could) (nothing was sent)")
    }

    /// The plan's user name for a message: letters of any script kept, control and format characters (bidi
    /// overrides) left out, at most 80 characters.
    private func shown(_ user: String) -> String {
        let kept = user.unicodeScalars.filter {
            $0.properties.generalCategory != .control && $0.properties.generalCategory != .format
        }
        return String(String.UnicodeScalarView(kept.prefix(80)))
    }

    /// UTF8 (RFC 6856 §2), before a USER with a name in UTF-8: the server said it takes such names (`utf8User`).
    func enterUTF8Mode() throws {
        let reply = try command("UTF8")
        guard reply.ok else { throw classify(reply, doing: "UTF8 (RFC 6856)", defaultKind: .auth) }
    }
}
