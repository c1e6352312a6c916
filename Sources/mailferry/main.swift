import Foundation
import MailFerryCommandLine

MailFerryCLI.prepareProcess()
exit(MailFerryCLI.main(Array(CommandLine.arguments.dropFirst())))
