import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Options of one `mailferry run`.
public struct RunOptions: Sendable {
    /// Mailboxes worked on at once; nil means the plan's `parallel`.
    public var parallel: Int?
    /// List what would be fetched and what a retention policy would delete, without fetching, delivering,
    /// deleting or recording anything.
    public var dryRun: Bool
    public init(parallel: Int? = nil, dryRun: Bool = false) {
        self.parallel = parallel
        self.dryRun = dryRun
    }
}

/// Receives what the runner does, as it happens (terminal output, tests).
public protocol RunObserver: Sendable {
    func mailboxStarted(_ mailbox: Plan.Mailbox)
    /// The mailbox is listed: `messages` (of `bytes` in all, by the server's sizes) are to be fetched this run.
    func mailboxPlanned(_ mailbox: Plan.Mailbox, messages: Int, bytes: Int)
    /// One of the planned messages is done with, whatever came of it (delivered, duplicate, set aside).
    func messageSettled(_ mailbox: Plan.Mailbox, bytes: Int)
    func mailboxFinished(_ result: MailboxResult)
}

extension RunObserver {
    public func mailboxPlanned(_ mailbox: Plan.Mailbox, messages: Int, bytes: Int) {}
    public func messageSettled(_ mailbox: Plan.Mailbox, bytes: Int) {}
}
