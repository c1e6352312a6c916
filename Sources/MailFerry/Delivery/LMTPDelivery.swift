import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// LMTP targets (RFC 2033): final delivery into the target server's mailboxes, per-recipient answers after DATA.
public enum LMTPDelivery {
    /// An LMTP target over TCP (`host`, `port`, default 24) or, when `socket` is given, a Unix socket. MAIL FROM is
    /// the message's recovered sender with `envelopeFrom: .original` (the default: final delivery, so the stored
    /// Return-Path stays the original one), else `from` ("" the null sender). `recipients` are the mailbox's
    /// address(es) used when a message names none. LMTP may use STARTTLS (`tls: starttls`); it has no AUTH.
    /// `timeout` bounds connecting and every read and write but the per-recipient replies after DATA's final ".",
    /// which `dataTimeout` bounds.
    public static func make(
        host: String = "127.0.0.1", port: Int = 24, socket: String? = nil,
        tls: TLSMode = .none, tlsSettings: TLSSettings = TLSSettings(), timeout: Double = 60,
        from: String = "", envelopeFrom: EnvelopeSenderPolicy = .original,
        recipients: [String] = [], clientName: String? = nil,
        dataTimeout: Double = Plan.defaultDataTimeout
    )
        -> MailTransferDelivery
    {
        MailTransferDelivery(
            settings: MailTransferSettings(
                endpoint: ServerEndpoint(
                    host: host, port: port, tls: socket == nil ? tls : .none,
                    tlsSettings: tlsSettings, timeout: timeout, socketPath: socket),
                dialect: .lmtp, defaultSender: from, envelopeFrom: envelopeFrom, defaultRecipients: recipients,
                clientName: clientName, dataTimeout: dataTimeout))
    }
}
