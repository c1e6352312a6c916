import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension Plan {
    /// The delivery into one target mailbox: the mailbox's own address, or for a catch-all one of the addresses its
    /// routing chose. Templates ({mailbox}, {local}, ...) are filled with that address. Used by runs and by verify.
    /// `staged`: a Maildir writes in batches made durable by `flush`, an IMAP target pipelines its APPENDs and
    /// answers for them at `flush` (runs, whose checkpoints wait for it).
    func delivery(
        for mailbox: Plan.Mailbox, address: String, trace: ProtocolTrace? = nil,
        staged: Bool = false
    ) throws -> any Delivery {
        guard let target = targets[mailbox.target] else {
            throw MailError(.local, "no target named \(mailbox.target)")
        }
        var routed = mailbox
        routed.address = address
        let label = "\(mailbox.key) \(target.name)"
        switch target.kind {
        case .maildir(let template, let ownership, let keepPOP3UIDL):
            return try MaildirDelivery(
                location: maildirLocation(template, mailbox: routed), ownership: ownership,
                stagingLimit: staged ? MaildirDelivery.runBatch : 1, keepPOP3UIDL: keepPOP3UIDL)
        case .imap(let imap):
            let endpoint = imap.endpoint
            let delivery = try IMAPDelivery.make(
                host: endpoint.host, port: endpoint.port, tls: endpoint.tls,
                tlsSettings: endpoint.tlsSettings,
                allowPlaintext: endpoint.allowPlaintext, timeout: endpoint.timeout,
                user: imap.user, password: imap.password, token: imap.token,
                authorize: imap.authorize.map { expandTemplate($0, mailbox: routed) },
                acting: imap.actingStyle, folder: imap.folder, flags: imap.flags,
                provenanceHeader: imap.provenanceHeader)
            delivery.trace = trace?.session("\(label) imap \(endpoint.label)")
            if staged { delivery.pipelineDepth = IMAPDelivery.runPipelineDepth }
            return delivery
        case .lmtp(let lmtp):
            let delivery = LMTPDelivery.make(
                host: lmtp.endpoint?.host ?? "127.0.0.1", port: lmtp.endpoint?.port ?? 24,
                socket: lmtp.socket, tls: lmtp.endpoint?.tls ?? .none,
                tlsSettings: lmtp.endpoint?.tlsSettings ?? TLSSettings(),
                timeout: lmtp.timeout, from: lmtp.from,
                envelopeFrom: lmtp.envelopeFrom, recipients: [address],
                dataTimeout: lmtp.dataTimeout)
            delivery.trace = trace?.session("\(label) lmtp \(lmtp.socket ?? lmtp.endpoint?.label ?? "")")
            return delivery
        case .smtp(let smtp):
            let endpoint = smtp.endpoint
            let delivery = SMTPDelivery.make(
                host: endpoint.host, port: endpoint.port, tls: endpoint.tls,
                tlsSettings: endpoint.tlsSettings, allowPlaintext: endpoint.allowPlaintext,
                timeout: endpoint.timeout, user: smtp.user, password: smtp.password,
                token: smtp.token, from: smtp.from, envelopeFrom: smtp.envelopeFrom,
                recipients: [address], dataTimeout: smtp.dataTimeout)
            delivery.trace = trace?.session("\(label) smtp \(endpoint.label)")
            return delivery
        }
    }
}

extension Plan {
    /// What the deliveries `delivery(for:address:staged:)` makes for `mailbox` can do, known before one is opened.
    func deliveryTraits(for mailbox: Plan.Mailbox, staged: Bool = false) throws -> DeliveryTraits {
        guard let target = targets[mailbox.target] else {
            throw MailError(.local, "no target named \(mailbox.target)")
        }
        switch target.kind {
        case .maildir: return MaildirDelivery.traits(stagingLimit: staged ? MaildirDelivery.runBatch : 1)
        case .imap(let imap):
            return IMAPDelivery.traits(
                provenanceHeader: imap.provenanceHeader,
                pipelineDepth: staged ? IMAPDelivery.runPipelineDepth : 1)
        case .lmtp, .smtp: return MailTransferDelivery.traits
        }
    }
}

extension Plan.IMAPTarget {
    /// The plan's `acting` and `masterSeparator` as the IMAP client's login style.
    var actingStyle: IMAPActingStyle {
        switch acting {
        case .authzid: return .saslAuthzid
        case .master: return .masterUser(separator: masterSeparator)
        }
    }
}
