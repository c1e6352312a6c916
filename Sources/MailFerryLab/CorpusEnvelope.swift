/// Who sent one corpus message to whom and when, and the header block every message carries.
///
/// The trace headers are the ones a migration must keep and a mail client must not trip over: Return-Path,
/// Delivered-To and X-Original-To as Postfix and Dovecot write them, and two to four Received hops (newest first,
/// RFC 5321 §4.4) folded over several lines, with "for <addr>" on the hops that know the recipient.
struct CorpusEnvelope {
    struct Person {
        var name: String
        var address: String
        var host: String
    }

    let index: Int
    let user: String
    let domain: String
    let sender: Person
    let sent: CorpusDate
    let messageID: String
    let topic: String
    let mailer: String

    var recipient: String {
        "\(user)@\(domain)"
    }

    var recipientHeader: String {
        "\(user.capitalizedFirst) <\(recipient)>"
    }

    init(index: Int, user: String, domain: String, sentAt epochSeconds: Int64, rng: inout SplitMix64) {
        self.index = index
        self.user = user
        self.domain = domain
        let first = rng.pick(CorpusText.firstNames)
        let last = rng.pick(CorpusText.lastNames)
        let senderDomain = rng.pick(CorpusText.senderDomains)
        let local = rng.chance(70) ? "\(first).\(last)".lowercased() : "\(first.prefix(1))\(last)".lowercased()
        sender = Person(name: "\(first) \(last)", address: "\(local)@\(senderDomain)", host: "mail-out.\(senderDomain)")
        sent = CorpusDate(epochSeconds: epochSeconds, offsetMinutes: rng.pick([-300, -240, 0, 60, 60, 120, 330, 540]))
        messageID = "<\(sent.compact).\(rng.hex(12)).\(index)@\(sender.host)>"
        topic = rng.pick(CorpusText.topics)
        mailer = rng.pick(CorpusText.mailers)
    }

    /// Return-Path, Delivered-To, X-Original-To and the Received chain, in the order the MTAs prepended them.
    func writeTrace(_ writer: inout MessageWriter, _ rng: inout SplitMix64) {
        let local = sent.inZone(60)
        let queued = local.adding(seconds: rng.int(in: 2...90))
        let delivered = queued.adding(seconds: rng.int(in: 0...3))
        writer.header("Return-Path", "<\(sender.address)>")
        writer.header("Delivered-To", recipient)
        writer.folded(
            "Received",
            [
                "from mx1.\(domain) (localhost [127.0.0.1])",
                "by mail.\(domain) (Postfix) with LMTP id \(rng.hex(10))",
                "for <\(recipient)>; \(delivered.rfc5322)",
            ])
        writer.header("X-Original-To", recipient)
        let relay = "198.51.100.\(rng.int(in: 2...250))"
        writer.folded(
            "Received",
            [
                "from \(sender.host) (\(sender.host) [\(relay)])",
                "(using TLSv1 with cipher DHE-RSA-AES256-SHA (256/256 bits))",
                "(No client certificate requested)",
                "by mx1.\(domain) (Postfix) with ESMTPS id \(rng.hex(10))",
                "for <\(recipient)>; \(queued.rfc5322)",
            ])
        let hops = rng.int(in: 2...4)
        if hops >= 3 {
            let client = rng.int(in: 2...250)
            let login = sender.address.split(separator: "@")[0]
            writer.folded(
                "Received",
                [
                    "from [192.168.1.\(rng.int(in: 2...250))] (dsl-203-0-113-\(client).example.net [203.0.113.\(client)])",
                    "(Authenticated sender: \(login))",
                    "by \(sender.host) (Postfix) with ESMTPSA id \(rng.hex(10));",
                    sent.adding(seconds: 1).rfc5322,
                ])
        }
        if hops == 4 {
            // Some MTAs fold with spaces rather than a tab; both are whitespace to RFC 5322.
            writer.folded(
                "Received",
                [
                    "by 10.0.\(rng.int(in: 0...255)).\(rng.int(in: 1...254)) with SMTP id \(rng.hex(16));",
                    sent.rfc5322,
                ], indent: "        ")
        }
    }

    /// A DKIM-Signature as Gmail-era senders added them: long and folded in the middle of base64.
    func writeSignature(_ writer: inout MessageWriter, _ rng: inout SplitMix64) {
        let senderDomain = String(sender.address.split(separator: "@")[1])
        let signature = CorpusEncoding.base64(rng.bytes(128))
        writer.folded(
            "DKIM-Signature",
            [
                "v=1; a=rsa-sha256; c=relaxed/relaxed; d=\(senderDomain); s=mail2009;",
                "h=from:to:subject:date:message-id;",
                "bh=\(CorpusEncoding.base64(rng.bytes(32)));",
                "b=\(signature.prefix(64))",
                String(signature.dropFirst(64).prefix(64)),
                String(signature.dropFirst(128)),
            ])
    }

    /// Message-ID (unless left out), Date, From, To, `extra` headers, Subject and X-Mailer.
    func writeOriginator(
        _ writer: inout MessageWriter, subject: String, messageID includeID: Bool = true,
        from: String? = nil, extra: [(String, [String])] = []
    ) {
        if includeID {
            writer.header("Message-ID", messageID)
        }
        writer.header("Date", sent.rfc5322)
        writer.header("From", from ?? "\"\(sender.name)\" <\(sender.address)>")
        writer.header("To", recipientHeader)
        for (name, parts) in extra {
            writer.folded(name, parts)
        }
        if subject.count > 60, let split = subject.dropFirst(40).firstIndex(of: " ") {
            // A long subject folds at a space, as RFC 5322 §2.2.3 allows.
            let parts = [String(subject[..<split]), String(subject[subject.index(after: split)...])]
            writer.folded("Subject", parts, indent: " ")
        } else {
            writer.header("Subject", subject)
        }
        writer.header("X-Mailer", mailer)
    }
}
