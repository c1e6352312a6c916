import Foundation
import MailCore

extension MailError {
    /// This error, marked as leaving its delivery in doubt (`MailError.Code.inDoubt`).
    func leavingDeliveryInDoubt() -> MailError {
        MailError(kind, message + " (after the whole message was sent: it may have been stored)", code: .inDoubt)
    }
}
