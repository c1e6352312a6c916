import Foundation
import MailCore
import MailSystem
import MailWire
import MailStore

/// The release this build is: the command line prints it (`mailferry --version`), and the reports and the dashboard
/// carry it.
public enum MailFerryRelease {
    public static let version = "0.1.0"
}
