import MailCore
import MailStore
import MailSystem
import MailWire

/// A POP3 listing entry is what the store records of a listed message.
extension POP3Entry: ListedMessage {}
