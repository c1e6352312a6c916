import Foundation
import MailCore

extension MailError {
    /// The code of a delivery error after the whole message went to the target but its answer could not be read
    /// (the connection broke, timed out, or a stop's grace ran out): it may have been stored. Such an attempt is
    /// neither refused nor retried blindly; it stays in doubt for the next run's reconciliation.
    public static let inDoubtCode = "mailferry/in-doubt"

    /// This error, marked as leaving its delivery in doubt.
    func leavingDeliveryInDoubt() -> MailError {
        MailError(kind, message + " (after the whole message was sent: it may have been stored)",
                  code: MailError.inDoubtCode)
    }
}
