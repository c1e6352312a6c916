import Foundation
import Synchronization
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// SMTP and LMTP targets wait `dataTimeoutSeconds` (default 600, RFC 5321 §4.5.3.2.6) for the reply after DATA's
/// final ".", separately from `timeoutSeconds`: a slow content filter must not put a message in doubt, to be sent
/// again.
@Suite(.serialized) struct DataTimeoutTests {
    static func plan(_ targets: String) -> String {
        """
        {
          plan: "slow",
          sources: { isp: { host: "127.0.0.1", port: 1995, tls: "implicit" } },
          targets: {
        \(targets)
          },
          mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t1",
                         mailbox: "u@contoso.example" } ],
        }
        """
    }

    @Test func defaultsToTenMinutesAndReachesTheDelivery() throws {
        let dir = TempFolder("data-timeout")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/slow.json5",
            Self.plan(
                """
                    t1: { kind: "smtp", host: "127.0.0.1", port: 2525, tls: "none", timeoutSeconds: 30 },
                    t2: { kind: "lmtp", host: "127.0.0.1", port: 2424 },
                    t3: { kind: "smtp", host: "127.0.0.1", port: 2525, tls: "none", dataTimeoutSeconds: 900 },
                    t4: { kind: "lmtp", socket: "/run/lmtp", dataTimeoutSeconds: 1200 },
                """))
        let plan = try PlanLoader.load(file)
        func dataTimeout(_ name: String) -> Double? {
            switch plan.targets[name]?.kind {
            case .smtp(let smtp)?: return smtp.dataTimeout
            case .lmtp(let lmtp)?: return lmtp.dataTimeout
            default: return nil
            }
        }
        #expect(Plan.defaultDataTimeout == 600)
        #expect(dataTimeout("t1") == 600 && dataTimeout("t2") == 600)
        #expect(dataTimeout("t3") == 900 && dataTimeout("t4") == 1200)
        // The delivery a run makes carries it; `timeoutSeconds` stays what it bounds.
        let delivery = try #require(
            try plan.delivery(for: plan.mailboxes[0], address: "u@contoso.example")
                as? MailTransferDelivery)
        #expect(delivery.settings.dataTimeout == 600 && delivery.settings.endpoint.timeout == 30)
        var routed = plan.mailboxes[0]
        routed.target = "t4"
        let lmtp = try #require(try plan.delivery(for: routed, address: "u@contoso.example") as? MailTransferDelivery)
        #expect(lmtp.settings.dataTimeout == 1200 && lmtp.settings.endpoint.timeout == 60)
    }

    @Test func badValuesAreProblemsAtTheirPlace() throws {
        let dir = TempFolder("data-timeout")
        defer { dir.cleanup() }
        let file = dir.file(
            "jobs/slow.json5",
            Self.plan(
                """
                    t1: { kind: "smtp", host: "127.0.0.1", port: 2525, tls: "none", dataTimeoutSeconds: 0 },
                    t2: { kind: "lmtp", host: "127.0.0.1", dataTimeoutSeconds: "ten minutes" },
                    t3: { kind: "lmtp", socket: "/run/lmtp", dataTimeoutSeconds: 1.5 },
                    t4: { kind: "smtp", host: "127.0.0.1", port: 2525, tls: "none", dataTimeoutSeconds: 86400 },
                    t5: { kind: "imap", host: "127.0.0.1", tls: "implicit", user: "a", password: { env: "A" },
                          dataTimeoutSeconds: 600 },
                """))
        let error = #expect(throws: PlanError.self) { try PlanLoader.load(file) }
        let lines = (error?.description ?? "").split(separator: "\n").map(String.init)
        // file:line:col of the key on the plan line that holds `marker`.
        let text = try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "\n")
        func spot(_ marker: String) -> String {
            let index = text.firstIndex { $0.contains(marker) } ?? 0
            let column =
                text[index].range(of: "dataTimeoutSeconds").map {
                    text[index].distance(from: text[index].startIndex, to: $0.lowerBound) + 1
                } ?? 0
            return "\(file):\(index + 1):\(column): "
        }
        let range = "must be a whole number from 1 to 3600"
        #expect(lines.contains(spot("t1:") + "targets.t1.dataTimeoutSeconds: " + range), "\(lines)")
        #expect(
            lines.contains(spot("t2:") + "targets.t2.dataTimeoutSeconds: must be a number, found a string"),
            "\(lines)")
        #expect(lines.contains(spot("t3:") + "targets.t3.dataTimeoutSeconds: " + range), "\(lines)")
        #expect(lines.contains(spot("t4:") + "targets.t4.dataTimeoutSeconds: " + range), "\(lines)")
        // IMAP has no DATA: the key is unknown there.
        #expect(
            lines.contains { $0.hasPrefix(spot("dataTimeoutSeconds: 600 }")) && $0.contains("unknown key") },
            "\(lines)")
    }

    /// LMTP: each per-recipient reply after the final "." is waited for `dataTimeout`, not `timeout` (1 s here):
    /// replies 1.5 s apart are both read. With `dataTimeout` shorter than the server takes, the attempt is in doubt.
    @Test(arguments: [(10.0, true), (1.0, false)])
    func lmtpWaitsDataTimeoutForEachRecipientReply(dataTimeout: Double, answered: Bool) throws {
        let server = try FakeServer(timeout: 5) { s in
            try s.send("220 fake LMTP\r\n")
            try s.expect("LHLO client.test")
            try s.send("250 fake\r\n")
            for (line, reply) in [
                ("MAIL FROM:<>", "250 ok"), ("RCPT TO:<a@x.example>", "250 ok"),
                ("RCPT TO:<b@x.example>", "250 ok"), ("DATA", "354 go"),
            ] {
                try s.expect(line)
                try s.send(reply + "\r\n")
            }
            while try s.readLine() != "." {}
            guard answered else {
                // The client gives up after `dataTimeout` and closes; it sends nothing meanwhile.
                try s.respond([:])
                return
            }
            try s.expectSilence(1.5)
            try s.send("250 2.0.0 <a@x.example> Saved\r\n")
            try s.expectSilence(1.5)
            try s.send("250 2.0.0 <b@x.example> Saved\r\n")
            try s.respond(["QUIT": "221 bye\r\n"])
        }
        let delivery = LMTPDelivery.make(
            port: server.port, timeout: 1, from: "", envelopeFrom: .plan,
            clientName: "client.test", dataTimeout: dataTimeout)
        let dir = TempFolder("data-timeout")
        defer { dir.cleanup() }
        let request = DeliveryRequest(
            token: "t", spool: try makeSpool(dir, Array("Subject: x\r\n\r\nhi\r\n".utf8)),
            arrival: Date(), recipients: ["a@x.example", "b@x.example"])
        let started = monotonicSeconds()
        if answered {
            let result = try delivery.deliverMessage(request)
            #expect(result.recipients.map(\.accepted) == [true, true])
        } else {
            let error = #expect(throws: MailError.self) { try delivery.deliverMessage(request) }
            #expect(error?.code == .inDoubt, "\(String(describing: error))")
            #expect(monotonicSeconds() - started < 4)
        }
        delivery.close()
        server.finish()
    }

    /// The Must-show: an SMTP server that answers the final "." after 90 s, with `timeoutSeconds: 60`. The run waits
    /// (the default `dataTimeoutSeconds`, 600), the message is delivered once: accepted, its row "delivered", no
    /// possible duplicate, and the next run sends nothing. The only timed wait is the server's own 90 s; every other
    /// wait is for an event, bounded by the fake servers' timeouts.
    @Test(.timeLimit(.minutes(4))) func aSlowFinalReplyIsWaitedForAndTheMessageIsSentOnce() throws {
        let message = "Subject: slow filter\r\nMessage-ID: <slow@wingtip.example>\r\n\r\nscanned for a while\r\n"
        let login = POP3RunnerBehaviourTests.login()
        let listing: [FakeStep] = [
            .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
            .expect("LIST"), .send("+OK\r\n1 \(message.utf8.count)\r\n.\r\n"),
            .expect("UIDL"), .send("+OK\r\n1 SLOW-1\r\n.\r\n"),
        ]
        // The source session is idle while the target thinks: its reads wait longer than that.
        let source = try FakeServer(connections: 2, timeout: 150) { s in
            for step in login + listing { try s.run(step) }
            if s.number == 0 {
                try s.run(.expect("RETR 1"))
                try s.send("+OK\r\n\(message).\r\n")
            }
            try s.run(.respond(["QUIT": "+OK\r\n"]))
        }
        let delay = 90.0
        let answered = Mutex<Double?>(nil)
        let relay = try FakeServer(connections: 1, timeout: 10) { s in
            try s.send("220 slow.example ESMTP\r\n")
            let hello = try s.readLine()
            guard hello.hasPrefix("EHLO ") else { throw FakeServerError("expected EHLO, got \(hello)") }
            try s.send("250 slow.example\r\n")
            try s.expect("MAIL FROM:<>")
            try s.send("250 2.1.0 Ok\r\n")
            try s.expect("RCPT TO:<u@contoso.example>")
            try s.send("250 2.1.5 Ok\r\n")
            try s.expect("DATA")
            try s.send("354 End data with <CR><LF>.<CR><LF>\r\n")
            while try s.readLine() != "." {}
            let dot = monotonicSeconds()
            // Nothing from the client meanwhile: it neither gives up nor sends anything else.
            try s.expectSilence(delay)
            try s.send("250 2.0.0 Ok: queued as SLOW1\r\n")
            answered.withLock { $0 = monotonicSeconds() - dot }
            try s.expect("QUIT")
            try s.send("221 2.0.0 Bye\r\n")
        }
        let dir = TempFolder("data-timeout")
        defer { dir.cleanup() }
        let secret = dir.file("secrets/pw", "pw\n")
        let planFile = dir.file(
            "jobs/slow.json5",
            """
            {
              plan: "slow",
              sources: { odd: { host: "127.0.0.1", port: \(source.port), tls: "none", allowPlaintext: true,
                                timeoutSeconds: 60, auth: ["user"] } },
              targets: { relay: { kind: "smtp", host: "127.0.0.1", port: \(relay.port), tls: "none",
                                  timeoutSeconds: 60, from: "" } },
              mailboxes: [ { source: "odd", user: "u", password: { file: "\(secret)" }, target: "relay",
                             mailbox: "u@contoso.example" } ],
            }
            """)
        let plan = try PlanLoader.load(planFile)
        let store = try Store(path: plan.statePath)
        let first = try Runner(plan: plan, store: store).run(runID: "slow-1").first!
        relay.finish()
        let waited = answered.withLock { $0 }
        #expect(waited.map { $0 >= delay } == true, "the reply went out after \(waited ?? -1) s")
        #expect(first.error == nil && first.delivered == 1 && first.possibleDuplicates.isEmpty, "\(first)")
        let box = try #require(try store.mailboxID(key: "odd/u"))
        #expect(try store.counts(mailbox: box) == [.delivered: 1])
        let rows = try store.withDatabaseForTests { db in
            try db.prepare("SELECT target_ref FROM messages").rows([]) { $0.text(0) }
        }
        #expect(rows == ["250 2.0.0 Ok: queued as SLOW1"], "\(rows)")
        #expect(relay.transcripts.count == 1)
        #expect(relay.transcript.plainText.components(separatedBy: "\r\nDATA\r\n").count == 2)
        // The next run finds nothing new: the relay is not called again (it accepts no second connection).
        let second = try Runner(plan: plan, store: store).run(runID: "slow-2").first!
        source.finish()
        #expect(second.error == nil && second.delivered == 0 && second.new == 0, "\(second)")
        #expect(try store.counts(mailbox: box) == [.delivered: 1])
    }
}
