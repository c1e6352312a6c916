import Foundation

/// Where everything of one Postfix lab lives under its root.
struct PostfixLayout: Sendable {
    let root: URL

    var configDir: URL { root.appendingPathComponent("etc", isDirectory: true) }
    var mainCf: URL { configDir.appendingPathComponent("main.cf") }
    var masterCf: URL { configDir.appendingPathComponent("master.cf") }
    /// virtual_mailbox_maps: the addresses Postfix accepts (texthash: read as plain text, no postmap needed).
    var recipients: URL { configDir.appendingPathComponent("recipients") }
    /// check_recipient_access: addresses refused at RCPT by policy (texthash).
    var refusedRecipients: URL { configDir.appendingPathComponent("refused-recipients") }
    var queueDir: URL { root.appendingPathComponent("spool", isDirectory: true) }
    var dataDir: URL { root.appendingPathComponent("data", isDirectory: true) }
    var logFile: URL { root.appendingPathComponent("postfix.log") }
    var launchOutput: URL { root.appendingPathComponent("postfix.out") }
    var masterPid: URL { queueDir.appendingPathComponent("pid/master.pid") }
    /// The SASL service: a Dovecot with only its auth process, which Postfix asks over TCP (smtpd_sasl_type dovecot).
    var auth: LabLayout { LabLayout(root: root.appendingPathComponent("auth", isDirectory: true)) }
    var saslUsers: URL { auth.root.appendingPathComponent("users") }
    /// Certificates: the same kind of throwaway CA and server certificate as the Dovecot lab's.
    var certificates: LabLayout { LabLayout(root: root) }
}

/// The ports of one Postfix lab on 127.0.0.1.
public struct PostfixPorts: Sendable, Hashable {
    /// SMTP with STARTTLS offered; AUTH only after STARTTLS (smtpd_tls_auth_only).
    public var smtp: Int
    /// SMTP over implicit TLS (smtpd_tls_wrappermode, as on port 465).
    public var smtps: Int
    /// Dovecot's auth service, for Postfix's SASL.
    public var auth: Int
}

/// main.cf and master.cf of one Postfix lab, written from scratch: nothing of /etc/postfix leaks in. A pure value.
struct PostfixConfiguration: Sendable {
    var layout: PostfixLayout
    var ports: PostfixPorts
    /// Mail for these domains goes to Dovecot's LMTP port; everything else is refused (the lab relays nowhere).
    var domains: [String]
    var lmtpPort: Int
    /// When true, RCPT is refused unless the client authenticated (a submission-style relay).
    var requireAuth: Bool
    /// Addresses refused at RCPT by an access map (554 5.7.1 "Recipient address rejected"), before anything else.
    var refusing: [String] = []

    /// check_recipient_access first, when some address is refused by policy.
    var recipientRestrictions: String {
        let access = refusing.isEmpty ? "" : "check_recipient_access texthash:\(layout.refusedRecipients.path), "
        return access + (requireAuth ? "permit_sasl_authenticated, reject" : "permit_mynetworks")
    }

    /// The access map: each refused address with REJECT and a reason Postfix appends to its reply.
    func refusedRecipientsMap() -> String {
        refusing.map { "\($0) REJECT refused by the mailferry lab's policy\n" }.joined()
    }

    func mainCf() -> String {
        """
        # Written by MailFerryLab. A private, throwaway Postfix on 127.0.0.1; edit the code, not this file.
        compatibility_level = 3.6
        queue_directory = \(layout.queueDir.path)
        data_directory = \(layout.dataDir.path)
        mail_owner = postfix
        setgid_group = postdrop
        myhostname = mx.postfix-lab.example
        mydomain = postfix-lab.example
        inet_interfaces = 127.0.0.1
        inet_protocols = ipv4
        mydestination =
        local_recipient_maps =
        relay_domains =
        mynetworks = 127.0.0.0/8
        alias_maps =
        alias_database =
        biff = no
        # No syslog on a test machine: Postfix's own log service writes this file.
        maillog_file = \(layout.logFile.path)
        maillog_file_prefixes = \(layout.root.path)
        smtpd_banner = $myhostname ESMTP mailferry lab
        # Final destination for the lab's domains: into the Dovecot lab over LMTP.
        virtual_mailbox_domains = \(domains.joined(separator: ", "))
        virtual_mailbox_maps = texthash:\(layout.recipients.path)
        virtual_transport = lmtp:inet:127.0.0.1:\(lmtpPort)
        default_transport = error:the mailferry lab relays nowhere else
        relay_transport = error:the mailferry lab relays nowhere else
        # Deliver at once, retry quickly: tests wait for the result.
        queue_run_delay = 1s
        minimal_backoff_time = 1s
        maximal_backoff_time = 5s
        smtputf8_enable = yes
        smtpd_tls_security_level = may
        smtpd_tls_cert_file = \(layout.certificates.serverCertificate.path)
        smtpd_tls_key_file = \(layout.certificates.serverKey.path)
        smtpd_tls_auth_only = yes
        smtpd_sasl_auth_enable = yes
        smtpd_sasl_type = dovecot
        smtpd_sasl_path = inet:127.0.0.1:\(ports.auth)
        smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
        smtpd_recipient_restrictions = \(recipientRestrictions)
        # Tests send bad commands on purpose; no tarpit.
        smtpd_error_sleep_time = 0
        smtpd_soft_error_limit = 100
        smtpd_hard_error_limit = 200

        """
    }

    /// Every service runs without chroot (the column after "unpriv"), so the config and queue can live anywhere.
    func masterCf() -> String {
        """
        # service type  private unpriv  chroot  wakeup  maxproc command
        127.0.0.1:\(ports.smtp) inet n - n - - smtpd
        127.0.0.1:\(ports.smtps) inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
        pickup    unix  n       -       n       60      1       pickup
        cleanup   unix  n       -       n       -       0       cleanup
        qmgr      unix  n       -       n       300     1       qmgr
        tlsmgr    unix  -       -       n       1000?   1       tlsmgr
        rewrite   unix  -       -       n       -       -       trivial-rewrite
        bounce    unix  -       -       n       -       0       bounce
        defer     unix  -       -       n       -       0       bounce
        trace     unix  -       -       n       -       0       bounce
        verify    unix  -       -       n       -       1       verify
        flush     unix  n       -       n       1000?   0       flush
        proxymap  unix  -       -       n       -       -       proxymap
        proxywrite unix -       -       n       -       1       proxymap
        smtp      unix  -       -       n       -       -       smtp
        relay     unix  -       -       n       -       -       smtp
        showq     unix  n       -       n       -       -       showq
        error     unix  -       -       n       -       -       error
        retry     unix  -       -       n       -       -       error
        discard   unix  -       -       n       -       -       discard
        lmtp      unix  -       -       n       -       -       lmtp
        anvil     unix  -       -       n       -       1       anvil
        scache    unix  -       -       n       -       1       scache
        postlog   unix-dgram n  -       n       -       1       postlogd

        """
    }

    /// A Dovecot that runs only its auth service, on a TCP port Postfix asks (Postfix's "dovecot" SASL type).
    static func authDovecotConf(
        layout: PostfixLayout, instanceName: String, port: Int,
        identity: MailIdentity
    ) -> String {
        var text = """
            # Written by MailFerryLab: Dovecot's auth service alone, for the Postfix lab's SASL.
            instance_name = \(instanceName)
            base_dir = \(layout.auth.baseDir.path)
            state_dir = \(layout.auth.stateDir.path)
            log_path = \(layout.auth.logFile.path)
            listen = 127.0.0.1
            protocols = none
            ssl = no
            stats_writer_socket_path =
            auth_failure_delay = 0
            auth_mechanisms = plain login
            # Postfix hands over the client's credentials; the SMTP session is TLS-protected already.
            disable_plaintext_auth = no
            auth_verbose = yes
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(layout.saslUsers.path)
            }
            userdb {
              driver = static
              args = uid=\(identity.uid) gid=\(identity.gid) home=/nonexistent
            }
            service auth {
              inet_listener {
                address = 127.0.0.1
                port = \(port)
              }
            }

            """
        if !identity.runsAsRoot {
            text += """
                default_internal_user = \(identity.userName)
                default_internal_group = \(identity.groupName)
                default_login_user = \(identity.userName)
                service anvil {
                  chroot =
                }

                """
        }
        return text
    }
}
