import Foundation

/// One message handed to a target.
public struct DeliveryRequest {
    /// Names this message's attempt at the target; deterministic per (mailbox, UIDL), so a repeated attempt after a
    /// crash finds or replaces the first one instead of adding a second copy.
    public var token: String
    public var spool: SpoolFile
    /// The original arrival time; becomes the Maildir file's mtime (Dovecot's received date).
    public var arrival: Date
}

/// A target that stores messages for one mailbox. The runner drives every kind through this.
public protocol Delivery: AnyObject {
    /// Stores the message durably and returns where it went (the target reference for the store).
    func deliver(_ request: DeliveryRequest) throws -> String
    /// For attempts a crash left in doubt: which of these tokens did land, and where. Absent tokens did not.
    func reconcile(tokens: [String]) throws -> [String: String]
    func close()
}
