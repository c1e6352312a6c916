import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A catch-all mailbox's messages, routed: each message goes to every target mailbox its routing chose, once, and
/// each routed delivery has its own checkpoint row under the message's. The router is built once per mailbox, when
/// its first message is routed.
final class CatchAllSplitter {
    private let plan: Plan
    private let mailbox: Plan.Mailbox
    private let global: Plan.GlobalRouting
    /// LMTP and SMTP targets take every routed recipient in one transaction.
    private let carriesEnvelope: Bool
    private var built: Router?

    /// The splitter of a catch-all mailbox (nil for a person's).
    init?(_ mailbox: Plan.Mailbox, plan: Plan) {
        guard let global = mailbox.global else { return nil }
        self.plan = plan
        self.mailbox = mailbox
        self.global = global
        carriesEnvelope = plan.targets[mailbox.target]?.carriesEnvelope == true
    }

    /// The mailbox's router, from its plan settings.
    private func router() throws -> Router {
        if let built { return built }
        let router = try plan.router(for: mailbox, global: global)
        built = router
        return router
    }

    /// A routed delivery still to be made.
    private struct Waiting {
        var row: MessageRecord
        var address: String
    }

    /// Routes and delivers `row`'s message; its own row is settled once every routed delivery is. Returns whether it
    /// was: false while a routed delivery waits for a later run, or when one failed.
    func deliver(
        _ row: MessageRecord, _ message: FetchedMessage, headers: HeaderBlock, number: Int,
        in run: MailboxRun
    ) throws -> Bool {
        let store = run.store
        let decision = try router().route(message.envelope, headers: headers)
        try store.recordEnvelope(
            id: row.id, messageID: message.messageID, dateHeader: message.dateHeader,
            json: StoredEnvelope(envelope: message.envelope, routing: decision).json())
        try store.markDelivering(
            id: row.id, target: run.mailbox.target, token: Runner.routedToken,
            size: message.spool.size, sha256: message.spool.sha256)
        var finished = 0
        var failedRoutes = 0
        var held = 0
        var waiting: [Waiting] = []
        for routed in decision.deliveries {
            let child = try store.routedDelivery(parent: row, mailbox: run.mailboxID, address: routed.mailbox)
            switch child.state {
            case .delivered: finished += 1
            case .failed, .duplicate: failedRoutes += 1
            // Held in doubt by reconciliation (an IMAP folder that may still store it): not sent again now.
            case .delivering: held += 1
            default: waiting.append(Waiting(row: child, address: routed.mailbox))
            }
        }
        let routes = Dictionary(decision.deliveries.map { ($0.mailbox, $0) }, uniquingKeysWith: { first, _ in first })
        let results = try deliverRouted(waiting, of: row, message, routes: routes, number: number, in: run)
        finished += results.filter { $0 == .delivered }.count
        failedRoutes += results.filter { $0 == .settled(.failed) }.count
        guard finished + failedRoutes == decision.deliveries.count else {
            // Some routed delivery waits for a later run: so does the message (it is fetched and routed again, and
            // the deliveries already made are skipped). One held in doubt is asked about again by the next run.
            let now = Date().timeIntervalSince1970
            try store.markDeferred(
                id: row.id, kind: .transient, error: "a routed delivery is deferred",
                retryAt: held > 0
                    ? now
                    : Disposition.retryTime(attempts: row.attempts + 1, kind: .transient, now: now),
                countAttempt: false)
            return false
        }
        // Done only once every routed delivery's checkpoint is committed: a routed delivery left in doubt under a
        // message that is never fetched again could not be completed.
        try run.checkpointer.settle()
        if failedRoutes == 0 {
            try store.markDelivered(id: row.id, targetRef: "routed to " + decision.mailboxes.joined(separator: ", "))
            run.ledger.record(.delivered(bytes: message.spool.size), for: number)
            return true
        }
        try store.markFailed(
            id: row.id, kind: .permanent,
            error: "\(failedRoutes) of \(decision.deliveries.count) routed deliveries failed")
        return false
    }

    /// The routed deliveries still to be made: together in one LMTP/SMTP transaction where the target allows it,
    /// else one by one. The fallback copy may carry why it is there (`global.reasonHeader`): other bytes, so it goes
    /// on its own. Returns each one's result.
    private func deliverRouted(
        _ waiting: [Waiting], of row: MessageRecord, _ message: FetchedMessage,
        routes: [String: RoutedDelivery], number: Int,
        in run: MailboxRun
    ) throws -> [Checkpointer.RowResult] {
        let columns = Store.EnvelopeColumns(messageID: message.messageID, dateHeader: message.dateHeader, json: "{}")
        func attemptRow(_ item: Waiting, _ message: FetchedMessage) -> Checkpointer.Row {
            Checkpointer.Row(
                record: item.row, address: item.address,
                token: run.token(
                    key: "\(run.mailbox.key)>\(item.address)", uidl: item.row.uidl,
                    message: message),
                credit: .routed(uidl: row.uidl, routes[item.address]), message: number)
        }
        let isFallback = { (item: Waiting) in self.global.reasonHeader && routes[item.address]?.isFallback == true }
        var together = waiting.filter { !isFallback($0) }
        var alone = waiting.filter(isFallback)
        var results: [Checkpointer.RowResult] = []
        if together.count > 1 && carriesEnvelope {
            // LMTP and SMTP take every routed recipient in one transaction (one RCPT each) and answer per recipient.
            results = try run.checkpointer.attempt(
                together.map { attemptRow($0, message) }, message: message,
                envelope: columns, mayStage: false)
        } else {
            alone = together + alone
            together = []
        }
        for item in alone {
            var copy = message
            if global.reasonHeader, let routed = routes[item.address], routed.isFallback {
                let spool = message.spool
                let field = RoutingHeader.fallbackField(
                    reason: routed.because,
                    lineEnding: RoutingHeader.lineEnding(of: try spool.head(1000)))
                copy.spool = try RoutingHeader.prefixed(spool, with: field, path: spool.path + ".routing")
            }
            defer { if copy.spool !== message.spool { copy.spool.discard() } }
            results += try run.checkpointer.attempt(
                [attemptRow(item, copy)], message: copy, envelope: columns,
                mayStage: false)
        }
        return results
    }
}

extension Plan {
    /// The router of a catch-all mailbox, from its plan settings. Addresses the plan knows as people's mailboxes
    /// make "unknown local address" detectable (then the fallback gets the message); a plan listing none accepts
    /// every rewritten address.
    func router(for mailbox: Plan.Mailbox, global: Plan.GlobalRouting) throws -> Router {
        let people = Set(mailboxes.filter { $0.global == nil }.map { $0.address.lowercased() })
        var rules: [RoutingRules.Rule] = []
        for rule in global.rules {
            guard let match = RoutingRules.Match(planText: rule.match) else {
                throw MailError(.permanent, "global routing rule \"\(sanitizeForDisplay(rule.match))\" cannot be read")
            }
            rules.append(RoutingRules.Rule(match: match, mailbox: rule.mailbox))
        }
        let fallback = global.fallback ?? mailbox.address
        let settings = RoutingRules(
            domains: global.domains, rewrite: global.rewrite, aliases: global.aliases,
            rules: rules, fallback: fallback,
            knownMailboxes: people.isEmpty ? nil : people.union([fallback.lowercased()]))
        do {
            return try Router(settings)
        } catch {
            throw MailError(
                .permanent,
                "global routing of \(mailbox.key): "
                    + error.problems.map { "\($0.setting): \($0.message)" }.joined(separator: "; "))
        }
    }
}
