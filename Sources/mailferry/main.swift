import Foundation
import Glibc
import MailFerry

// A server closing a connection must not kill us; writes report EPIPE instead.
signal(SIGPIPE, SIG_IGN)
exit(MailFerryCLI.main(Array(CommandLine.arguments.dropFirst())))
