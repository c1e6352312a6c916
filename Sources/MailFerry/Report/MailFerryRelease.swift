import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The release this build is: the command line prints it (`mailferry --version`), and the reports and the dashboard
/// carry it.
public enum MailFerryRelease {
    public static let version = "0.1.0"
}
