import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// SMTP targets (RFC 5321) to a relay or submission server.
public enum SMTPDelivery {
    /// An SMTP target. `tls`: implicit (SMTPS, port 465), starttls (mandatory once configured) or none (then AUTH
    /// only with `allowPlaintext`). `user` with `password` or `token` (already resolved) logs in with AUTH;
    /// `authorize` is the SASL authorization identity. `from` is the plan's sender ("" the null sender); with
    /// `envelopeFrom: .plan` (the default) it is every message's MAIL FROM, with `.original` only when a message's
    /// sender was not recovered. `recipients` are the mailbox's address(es) used when a message names none.
    /// `timeout` bounds connecting and every read and write but the reply after DATA's final ".", which
    /// `dataTimeout` bounds.
    public static func make(
        host: String, port: Int = 25, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
        allowPlaintext: Bool = false, timeout: Double = 60, user: String? = nil,
        password: String? = nil, token: String? = nil, authorize: String? = nil,
        from: String = "", envelopeFrom: EnvelopeSenderPolicy = .plan, recipients: [String] = [],
        clientName: String? = nil, dataTimeout: Double = Plan.defaultDataTimeout
    )
        -> MailTransferDelivery
    {
        var secret: (@Sendable () throws -> LoginSecret)?
        if let token {
            secret = { .token(token) }
        } else if let password {
            secret = { .password(password) }
        }
        return MailTransferDelivery(
            settings: MailTransferSettings(
                endpoint: ServerEndpoint(
                    host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                    allowPlaintext: allowPlaintext, timeout: timeout),
                dialect: .smtp, user: user, secret: secret, authorize: authorize, defaultSender: from,
                envelopeFrom: envelopeFrom, defaultRecipients: recipients, clientName: clientName,
                dataTimeout: dataTimeout))
    }

    /// The same with the plan's secret references, resolved at each (re)connect.
    public static func make(
        host: String, port: Int = 25, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
        allowPlaintext: Bool = false, timeout: Double = 60, user: String?,
        password: SecretRef?, token: SecretRef?, authorize: String? = nil,
        from: String = "", envelopeFrom: EnvelopeSenderPolicy = .plan, recipients: [String] = [],
        clientName: String? = nil, dataTimeout: Double = Plan.defaultDataTimeout
    )
        -> MailTransferDelivery
    {
        var secret: (@Sendable () throws -> LoginSecret)?
        if let token {
            secret = { .token(try token.resolve()) }
        } else if let password {
            secret = { .password(try password.resolve()) }
        }
        return MailTransferDelivery(
            settings: MailTransferSettings(
                endpoint: ServerEndpoint(
                    host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                    allowPlaintext: allowPlaintext, timeout: timeout),
                dialect: .smtp, user: user, secret: secret, authorize: authorize, defaultSender: from,
                envelopeFrom: envelopeFrom, defaultRecipients: recipients, clientName: clientName,
                dataTimeout: dataTimeout))
    }
}
