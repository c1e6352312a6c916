import Foundation

/// The complete dovecot.conf of one lab, written from scratch so nothing in /etc/dovecot leaks in.
///
/// A pure value: `render()` is the whole file, so a test can check the text without starting anything.
struct DovecotConfiguration: Sendable {
    var instanceName: String
    var layout: LabLayout
    var ports: LabPorts
    var identity: MailIdentity
    /// Diffie-Hellman parameters for non-ECDHE ciphers; nil when the package did not ship the file.
    var dhFile: String?
    /// Loads the quota plugin (Maildir++ quota; no limit unless `DovecotLab.setQuota` gives a user one).
    var quota = false

    static let defaultDHFile = "/usr/share/dovecot/dh.pem"

    func render() -> String {
        var text = """
            # Written by MailFerryLab. A private, throwaway Dovecot on 127.0.0.1; edit the code, not this file.
            instance_name = \(instanceName)
            base_dir = \(layout.baseDir.path)
            state_dir = \(layout.stateDir.path)
            log_path = \(layout.logFile.path)
            listen = 127.0.0.1
            protocols = pop3 imap lmtp
            # No statistics: a lab does not need them, and a process that starts while the lab stops would wait 5 s
            # for a handshake with the stats process (ignoring SIGTERM meanwhile).
            stats_writer_socket_path =

            ssl = yes
            ssl_cert = <\(layout.serverCertificate.path)
            ssl_key = <\(layout.serverKey.path)
            ssl_min_protocol = TLSv1.2

            """
        if let dhFile {
            text += "ssl_dh = <\(dhFile)\n"
        }
        text += """

            # Tests log in wrongly on purpose; the default delay of 2 s would make each of those tests slow.
            auth_failure_delay = 0
            # Every login method a legacy POP3 server may offer, so the client can be tested with each.
            auth_mechanisms = plain login cram-md5 apop
            auth_verbose = yes
            # LMTP RCPT TO:<alice@any.domain> reaches alice; logins are case-insensitive.
            auth_username_format = %Ln
            # An admin can open any mailbox as "user*admin" (or AUTHENTICATE PLAIN with authzid=user).
            auth_master_user_separator = *

            mail_location = maildir:~/Maildir
            mail_fsync = optimized
            # Only the lab's mail identity may own mail; a safety net against a wrong uid in the users file.
            first_valid_uid = \(identity.uid)
            last_valid_uid = \(identity.uid)

            # The master passdb must come first, or "alice*admin" is looked up as a user named that.
            passdb {
              driver = passwd-file
              master = yes
              args = scheme=PLAIN \(layout.masterUsers.path)
            }
            # One file per user (%u is the name after auth_username_format), so a new user is visible at once.
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(layout.users.path)/%u
            }
            userdb {
              driver = passwd-file
              args = \(layout.users.path)/%u
            }

            # Parallel tests open many sessions from one IP; the default of 10 refuses the eleventh.
            protocol pop3 {
              mail_max_userip_connections = 1000
              # Otherwise every POP3 QUIT renames the files in cur/ to record \\Seen, which tests do not expect.
              pop3_no_flag_updates = yes
              pop3_uidl_format = %08Xu%08Xv
            }
            protocol imap {
              mail_max_userip_connections = 1000
            }

            # Login services in "high-performance mode": one long-lived process per protocol, started with the
            # master, serves all connections and both listeners. The default forks a process per connection, and a
            # process still starting when the lab stops cannot react to SIGTERM for seconds (it blocks reading its
            # config from a config process that is already gone).
            service pop3-login {
              service_count = 0
              process_min_avail = 1
            \(loginChroot)  inet_listener pop3 {
                port = \(ports.pop3)
              }
              inet_listener pop3s {
                port = \(ports.pop3s)
                ssl = yes
              }
            }
            service imap-login {
              service_count = 0
              process_min_avail = 1
            \(loginChroot)  inet_listener imap {
                port = \(ports.imap)
              }
              inet_listener imaps {
                port = \(ports.imaps)
                ssl = yes
              }
            }
            service lmtp {
              inet_listener lmtp {
                port = \(ports.lmtp)
              }
            }

            """
        if quota {
            text += """

                # Quota (opt-in): no limit by default; a user's passwd-file line may carry
                # userdb_quota_rule=*:storage=<n>B (DovecotLab.setQuota). No grace, so exactly what fits is stored: by
                # default Dovecot lets the last message go 10% over. Over quota, IMAP APPEND answers NO [OVERQUOTA] and
                # LMTP 552 5.2.2.
                mail_plugins = $mail_plugins quota
                plugin {
                  quota = maildir:User quota
                  quota_grace = 0%%
                }

                """
        }
        if !identity.runsAsRoot {
            text += """

                # Not root: Dovecot cannot switch users, so every service runs as \(identity.userName).
                default_internal_user = \(identity.userName)
                default_internal_group = \(identity.groupName)
                default_login_user = \(identity.userName)
                service auth-worker {
                  user = $default_internal_user
                }
                service anvil {
                  chroot =
                }

                """
        }
        return text
    }

    /// Login processes chroot into base_dir/login by default, which needs root.
    private var loginChroot: String {
        identity.runsAsRoot ? "" : "  chroot =\n"
    }
}
