import MailStore
import MailWire
import MailCore
import MailSystem

/// A POP3 listing entry is what the store records of a listed message.
extension POP3Entry: ListedMessage {}
