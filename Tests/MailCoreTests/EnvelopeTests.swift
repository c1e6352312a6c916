import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// Received parsing (RFC 5321 §4.4), dates (RFC 5322 §3.3, §4.3), addresses (RFC 5322 §3.4) and envelope recovery
/// with its trust boundary and provenance.
@Suite struct EnvelopeTests {
    static let firstSeen = Date(timeIntervalSince1970: 1_763_625_600)  // 2025-11-20 08:00:00 UTC

    func block(_ lines: [String]) -> HeaderBlock {
        HeaderBlock(parsing: Array((lines.joined(separator: "\r\n") + "\r\n\r\nbody\r\n").utf8))
    }

    func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date {
        let days = daysFromCivil(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    // MARK: Received

    @Test func postfixReceived() {
        let trace = ReceivedHeader(
            parsing: "from mail.sender.example (mail.sender.example [192.0.2.7]) by "
                + "mx1.wingtip-isp.example (Postfix) with ESMTPS id 4Q1x2yZ for <Chris@WingtipToys.com>; Tue, 5 Mar 2019 "
                + "10:00:00 +0100 (CET)")
        #expect(trace.from == "mail.sender.example")
        #expect(trace.fromHost == "mail.sender.example")
        #expect(trace.fromAddress == "192.0.2.7")
        #expect(trace.by == "mx1.wingtip-isp.example")
        #expect(trace.with == "ESMTPS")
        #expect(trace.id == "4Q1x2yZ")
        #expect(trace.forAddresses == ["chris@wingtiptoys.com"])
        #expect(trace.dateText == "Tue, 5 Mar 2019 10:00:00 +0100 (CET)")
        #expect(trace.date?.date == utc(2019, 3, 5, 9, 0, 0))
        #expect(trace.date?.zoneOffset == 3600)
    }

    @Test func postfixWithoutReverseNameDoesNotBelieveTheHelo() {
        let trace = ReceivedHeader(
            parsing: "from mx1.wingtip-isp.example (unknown [203.0.113.9]) by "
                + "mx1.wingtip-isp.example (Postfix) with SMTP id 1; Tue, 5 Mar 2019 10:00:00 +0000")
        #expect(trace.from == "mx1.wingtip-isp.example")
        #expect(trace.fromHost == nil)
        #expect(trace.fromAddress == "203.0.113.9")
    }

    @Test func eximReceived() {
        let trace = ReceivedHeader(
            parsing: "from [198.51.100.4] (helo=laptop) by mx.wingtip-isp.example with esmtpsa "
                + "tls TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 (Exim 4.96) (envelope-from "
                + "<kelly@fabrikam.example>) id 1rAbCd-000123-Xy for kelly@wingtiptoys.com; "
                + "Wed, 06 Mar 2019 08:15:42 -0500")
        #expect(trace.fromHost == nil)
        #expect(trace.fromAddress == "198.51.100.4")
        #expect(trace.by == "mx.wingtip-isp.example")
        #expect(trace.with == "esmtpsa")
        #expect(trace.id == "1rAbCd-000123-Xy")
        #expect(trace.forAddresses == ["kelly@wingtiptoys.com"])
        #expect(trace.envelopeFrom == "kelly@fabrikam.example")
        #expect(trace.date?.date == utc(2019, 3, 6, 13, 15, 42))
    }

    @Test func qmailReceived() {
        let local = ReceivedHeader(parsing: "(qmail 28417 invoked by uid 89); 7 Mar 2019 11:20:05 -0000")
        #expect(local.by == nil)
        #expect(local.from == nil)
        #expect(local.date?.date == utc(2019, 3, 7, 11, 20, 5))
        #expect(local.date?.zoneOffset == nil)  // -0000: zone unknown (RFC 5322 §3.3)

        let network = ReceivedHeader(
            parsing: "from unknown (HELO mail.sender.example) (192.0.2.44) by "
                + "mx.qmail-isp.example with SMTP; 7 Mar 2019 11:20:04 -0000")
        #expect(network.fromHost == nil)
        #expect(network.fromAddress == "192.0.2.44")
        #expect(network.by == "mx.qmail-isp.example")
        #expect(network.forAddresses.isEmpty)
    }

    @Test func exchangeOnlineReceived() {
        let trace = ReceivedHeader(
            parsing: "from BN8NAM12FT012.eop-nam12.prod.protection.outlook.com "
                + "(2603:10b6:408:e1:cafe::1) by DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1::1) with Microsoft "
                + "SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.1234.5 via Frontend "
                + "Transport; Fri, 8 Mar 2019 09:00:01 +0000")
        #expect(trace.fromHost == "bn8nam12ft012.eop-nam12.prod.protection.outlook.com")
        #expect(trace.fromAddress == "2603:10b6:408:e1:cafe::1")
        #expect(trace.by == "dm6pr12mb1234.namprd12.prod.outlook.com")
        #expect(trace.with == "Microsoft")
        #expect(trace.id == "15.20.1234.5")
        #expect(trace.via == "Frontend")
        #expect(trace.date?.date == utc(2019, 3, 8, 9, 0, 1))
    }

    @Test func gmailAndSendmailReceived() {
        let gmail = ReceivedHeader(
            parsing: "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) "
                + "by mx.google.com with SMTPS id a1sor123.45.2019.03.09; Sat, 09 Mar 2019 01:02:03 -0800 (PST)")
        #expect(gmail.fromHost == "mail-sor-f41.google.com")
        #expect(gmail.by == "mx.google.com")
        #expect(gmail.date?.zoneOffset == -8 * 3600)

        let sendmail = ReceivedHeader(
            parsing: "from helo.example (real.example [192.0.2.1]) by smtp.old.example "
                + "(8.14.4/8.14.4) with ESMTP id x2ABC; Sun, 10 Mar 2019 12:00 +0200")
        #expect(sendmail.fromHost == "real.example")
        #expect(sendmail.date?.date == utc(2019, 3, 10, 10, 0, 0))  // no seconds
    }

    @Test func oddReceivedFieldsDoNotTrap() {
        for text in [
            "", ";", "from", "by", "for", "((((", "from x by y for", "; garbage", "by [10.0.0.1]; x",
            "for <a@b> <c@d>, e@f; 1 Jan 2020 00:00:00 +0000", "from a (b (c) d) by e.example",
        ] {
            _ = ReceivedHeader(parsing: text)
        }
        #expect(ReceivedHeader(parsing: "by [10.0.0.1]; x").by == "10.0.0.1")
        #expect(
            ReceivedHeader(parsing: "by x.example for <a@b.example> <c@d.example>, e@f.example; x").forAddresses
                == ["a@b.example", "c@d.example", "e@f.example"])
        #expect(ReceivedHeader(parsing: "from a (b (c) d) by e.example; x").by == "e.example")
        #expect(ReceivedHeader(parsing: "by x.example for multiple recipients; x").forAddresses.isEmpty)
    }

    // MARK: Dates

    @Test(
        arguments: [
            ("Tue, 5 Mar 2019 10:00:00 +0100", "2019-03-05 09:00:00", 3600),
            ("Tue, 05 Mar 2019 10:00:00 GMT", "2019-03-05 10:00:00", 0),
            ("5 Mar 2019 10:00:00 -0500", "2019-03-05 15:00:00", -18000),
            ("Tuesday, 5 March 2019 10:00 +0100", "2019-03-05 09:00:00", 3600),
            ("Tue, 5 Mar 19 10:00:00 +0100", "2019-03-05 09:00:00", 3600),  // two-digit year
            ("Fri, 5 Mar 99 10:00:00 +0100", "1999-03-05 09:00:00", 3600),
            ("Fri, 5 Mar 103 10:00:00 +0000", "2003-03-05 10:00:00", 0),  // three-digit year (RFC 5322 §4.3)
            ("Tue, 5 Mar 2019 10:00:00 EST", "2019-03-05 15:00:00", -18000),
            ("Tue, 5 Mar 2019 10:00:00 (CET)", "2019-03-05 09:00:00", 3600),  // zone only in a comment
            ("Tue, 5 Mar 2019 10:00:00 +0200 (CET)", "2019-03-05 08:00:00", 7200),  // the numeric zone wins
            ("Tue, 5 Mar 2019 10:00:00 MEZ", "2019-03-05 09:00:00", 3600),
            ("Tue,  5 Mar 2019 10:00:00.123 +0000", "2019-03-05 10:00:00", 0),
            ("05-Mar-2019 10:00:00 +0100", "2019-03-05 09:00:00", 3600),
            ("Tue Mar  5 10:00:00 2019", "2019-03-05 10:00:00", nil),  // asctime, no zone
            ("Tue, 5 Mar 2019 10:00:00 +01:00", "2019-03-05 09:00:00", 3600),
            ("Tue, 5 Mar 2019 10:00:00Z", "2019-03-05 10:00:00", 0),
            ("Tue, 5 Mar 2019 10:00:00 J", "2019-03-05 10:00:00", nil),  // military: unknown (§4.3)
            ("Tue, 5 Mar 2019 10:00:00 XYZT", "2019-03-05 10:00:00", nil),
            ("Thu, 29 Feb 2024 23:59:60 +0000", "2024-02-29 23:59:59", 0),  // leap second clamped
        ] as [(String, String, Int?)])
    func datesParse(text: String, expected: String, zone: Int?) throws {
        let parsed = try #require(MailDate.parse(text))
        #expect(Self.format(parsed.date) == expected)
        #expect(parsed.zoneOffset == zone)
    }

    @Test(arguments: [
        "", "yesterday", "Tue, 5 Mar 2019", "Tue, 31 Feb 2019 10:00:00 +0000",
        "Tue, 5 Foo 2019 10:00:00 +0000", "5 Mar 2019 25:00:00 +0000", "10:00:00",
        "Tue, 5 Mar 1850 10:00:00 +0000",
    ])
    func unreadableDates(text: String) {
        #expect(MailDate.parse(text) == nil)
    }

    @Test func datesFormatForIMAPAndReports() throws {
        let date = try #require(MailDate.parse("Tue, 5 Mar 2019 01:02:03 +0100"))
        #expect(date.imapInternalDate == "05-Mar-2019 01:02:03 +0100")
        #expect(date.rfc5322 == "Tue, 05 Mar 2019 01:02:03 +0100")
        let west = try #require(MailDate.parse("Mon, 31 Dec 2018 23:30:00 -0830"))
        #expect(west.imapInternalDate == "31-Dec-2018 23:30:00 -0830")
        let unknown = MailDate(date: utc(2019, 3, 5, 0, 2, 3), zoneOffset: nil)
        #expect(unknown.imapInternalDate == "05-Mar-2019 00:02:03 +0000")
        #expect(unknown.rfc5322 == "Tue, 05 Mar 2019 00:02:03 -0000")
    }

    static func format(_ date: Date) -> String {
        let parts = civil(fromSeconds: Int(date.timeIntervalSince1970))
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", parts.year, parts.month, parts.day, parts.hour,
            parts.minute, parts.second)
    }

    // MARK: Addresses

    @Test func addressLists() {
        #expect(
            MailAddress.list("\"Smith, Jane\" <Jane@Example.com>, bob@example.com (Bob), <c@d.example>")
                == ["jane@example.com", "bob@example.com", "c@d.example"])
        #expect(MailAddress.list("undisclosed-recipients:;").isEmpty)
        #expect(
            MailAddress.list("Team: a@x.example, b@y.example;, c@z.example")
                == ["a@x.example", "b@y.example", "c@z.example"])
        #expect(MailAddress.list("<a@x.example> <b@x.example>") == ["a@x.example", "b@x.example"])
        #expect(MailAddress.list("not an address, also@not@") == [])
        #expect(MailAddress.normalize("<@relay.example:chris@wingtiptoys.com>") == "chris@wingtiptoys.com")
        #expect(MailAddress.normalize("chris@wingtiptoys.com.") == "chris@wingtiptoys.com")
        #expect(MailAddress.normalize("<>") == nil)
        #expect(MailAddress.normalize("a b@x.example") == nil)
        #expect(MailAddress.normalize("\"a b\"@x.example") == "\"a b\"@x.example")
    }

    // MARK: Recovery

    let isp = EnvelopeRecovery(trustedHosts: [".wingtip-isp.example"], localDomains: ["wingtiptoys.com"])

    @Test func trustedChainThroughALoopbackFilter() {
        let headers = block([
            "Return-Path: <alice@fabrikam.example>",  // 0
            "Delivered-To: everyone@wingtip-isp.example",  // 1
            "X-Original-To: bob@wingtiptoys.com",  // 2
            "Received: from localhost (localhost [127.0.0.1]) by store.wingtip-isp.example (Postfix) with LMTP id"
                + " 9; Tue, 5 Mar 2019 10:00:09 +0100",  // 3
            "Received: from mx1.wingtip-isp.example ([127.0.0.1]) by localhost (amavisd-new, port 10024) with "
                + "ESMTP id 8; Tue, 5 Mar 2019 10:00:05 +0100",  // 4
            "Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.7]) by mx1.wingtip-isp.example "
                + "(Postfix) with ESMTPS id 7 for <bob@wingtiptoys.com>; Tue, 5 Mar 2019 10:00:00 +0100",  // 5
            "Received: from laptop by mail.fabrikam.example for <ceo@wingtiptoys.com>; Tue, 5 Mar 2019 09:59:00 +0100",
            "X-Original-To: ceo@wingtiptoys.com",  // 7
            "To: alice@fabrikam.example",
        ])
        let envelope = isp.recover(headers, firstSeen: Self.firstSeen)
        #expect(envelope.trustBoundary == 5)
        #expect(envelope.boundaryHost == "mx1.wingtip-isp.example")
        #expect(
            envelope.recipients == [
                RecoveredRecipient(
                    address: "bob@wingtiptoys.com",
                    provenance: .init(
                        header: "X-Original-To", position: 2,
                        trusted: true))
            ])
        #expect(envelope.recipientSource == .originalRecipient)
        #expect(envelope.sender == "alice@fabrikam.example")
        #expect(envelope.senderProvenance == Provenance(header: "Return-Path", position: 0, trusted: true))
        #expect(envelope.arrival == utc(2019, 3, 5, 9, 0, 9))
        #expect(envelope.arrivalSource == .providerReceived)
        #expect(envelope.arrivalProvenance?.position == 3)
        #expect(envelope.arrivalZoneOffset == 3600)
        #expect(envelope.alsoSeen.map(\.address) == ["everyone@wingtip-isp.example"])
        #expect(envelope.notes.contains { $0.hasPrefix("X-Original-To (field 7) is below the trust boundary") })
        #expect(envelope.notes.contains { $0.hasPrefix("Received (field 6) for <ceo@wingtiptoys.com> is below") })
        #expect(!envelope.isGuessed)
    }

    @Test func aForgedHopClaimingTheProviderIsNotBelieved() {
        let headers = block([
            "Delivered-To: wingtiptoys.com-everyone@wingtiptoys.com",
            "Received: from attacker.example (attacker.example [203.0.113.66]) by mx1.wingtip-isp.example with SMTP"
                + " id 1 for <everyone@wingtiptoys.com>; Tue, 5 Mar 2019 10:00:00 +0000",
            "Received: from mx0.wingtip-isp.example by mx1.wingtip-isp.example with SMTP for <ceo@wingtiptoys.com>;"
                + " Tue, 5 Mar 2019 09:00:00 +0000",
        ])
        let envelope = isp.recover(headers, firstSeen: Self.firstSeen)
        #expect(envelope.trustBoundary == 1)
        #expect(envelope.recipients.map(\.address) == ["everyone@wingtiptoys.com"])
        #expect(envelope.recipientSource == .receivedFor)
        #expect(
            envelope.notes.contains {
                $0.contains(
                    "(field 2) below the trust boundary claims to be by "
                        + "mx1.wingtip-isp.example")
            })
    }

    @Test func withoutTrustedHostsEverythingIsAGuess() {
        let open = EnvelopeRecovery(trustedHosts: [], localDomains: ["wingtiptoys.com"])
        let headers = block([
            "Delivered-To: chris@wingtiptoys.com",
            "Received: by mx.somewhere.example for <chris@wingtiptoys.com>; Tue, 5 Mar 2019 10:00:00 +0000",
            "Delivered-To: chris.old@gmail.example",
            "Date: Tue, 5 Mar 2019 09:00:00 +0000",
        ])
        let envelope = open.recover(headers, firstSeen: Self.firstSeen)
        #expect(envelope.trustBoundary == nil)
        #expect(envelope.isGuessed)
        #expect(
            envelope.recipients == [
                RecoveredRecipient(
                    address: "chris@wingtiptoys.com",
                    provenance: .init(
                        header: "Received", position: 1,
                        trusted: false))
            ])
        #expect(envelope.arrivalSource == .topmostReceived)
        #expect(envelope.notes.first == "no trustedHosts in the plan: every envelope header is a guess")

        let unknownHosts = EnvelopeRecovery(trustedHosts: ["mx9.elsewhere.example"], localDomains: ["wingtiptoys.com"])
        let other = unknownHosts.recover(headers, firstSeen: Self.firstSeen)
        #expect(other.trustBoundary == nil)
        #expect(other.notes.first?.hasPrefix("no Received field is by a trusted host") == true)
    }

    @Test func severalDeliveredToFollowTheDefinedOrder() {
        let chain = [
            "Delivered-To: everyone@wingtiptoys.com",
            "Received: by mx1.wingtip-isp.example (Postfix, from userid 1001) id 2; Tue, 5 Mar 2019 10:00:02 +0000",
            "Delivered-To: sales@wingtiptoys.com",
            "Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.7]) by mx1.wingtip-isp.example "
                + "with ESMTP id 1; Tue, 5 Mar 2019 10:00:00 +0000",
            "Delivered-To: kelly@fabrikam.example",
        ]
        // With a boundary: the lowest trusted one naming a local domain (the original; above it: alias steps).
        let trusted = isp.recover(block(chain), firstSeen: Self.firstSeen)
        #expect(trusted.recipients.map(\.address) == ["sales@wingtiptoys.com"])
        #expect(trusted.alsoSeen.map(\.address) == ["everyone@wingtiptoys.com"])
        // Without one: the topmost naming a local domain (deeper ones may come from elsewhere).
        let guessed = EnvelopeRecovery(trustedHosts: [], localDomains: ["wingtiptoys.com"])
            .recover(block(chain), firstSeen: Self.firstSeen)
        #expect(guessed.recipients.map(\.address) == ["everyone@wingtiptoys.com"])
        #expect(guessed.alsoSeen.map(\.address) == ["sales@wingtiptoys.com", "kelly@fabrikam.example"])
    }

    @Test func qmailVirtualDomainPrefix() {
        let headers = block([
            "Delivered-To: wingtiptoys.com-chris@wingtiptoys.com",
            "Received: (qmail 1 invoked by uid 89); 7 Mar 2019 11:20:05 -0000",
            "Received: from unknown (HELO mail.sender.example) (192.0.2.44) by mx.qmail-isp.example with SMTP; "
                + "7 Mar 2019 11:20:04 -0000",
        ])
        func recover(_ option: EnvelopeRecovery.QmailPrefix) -> RecoveredEnvelope {
            EnvelopeRecovery(
                trustedHosts: ["mx.qmail-isp.example"], localDomains: ["wingtiptoys.com"],
                qmailPrefix: option
            ).recover(headers, firstSeen: Self.firstSeen)
        }
        #expect(recover(.off).recipients.map(\.address) == ["wingtiptoys.com-chris@wingtiptoys.com"])
        let stripped = recover(.domain)
        #expect(stripped.recipients.map(\.address) == ["chris@wingtiptoys.com"])
        #expect(stripped.recipients.first?.original == "wingtiptoys.com-chris@wingtiptoys.com")
        #expect(stripped.recipients.first?.provenance == Provenance(header: "Delivered-To", position: 0, trusted: true))
        #expect(recover(.prefixes(["wingtiptoys.com-"])).recipients.map(\.address) == ["chris@wingtiptoys.com"])
        #expect(
            recover(.prefixes(["other-"])).recipients.map(\.address)
                == ["wingtiptoys.com-chris@wingtiptoys.com"])
        // The qmail "invoked by uid" hop above the boundary is the provider's too: the arrival is its time stamp.
        #expect(stripped.arrival == utc(2019, 3, 7, 11, 20, 5))
        #expect(stripped.arrivalZoneOffset == nil)
    }

    @Test func senderFallbacksAndTheNullSender() {
        let bounce = isp.recover(
            block([
                "Return-Path: <>",
                "Received: from x.example (x.example [192.0.2.1]) by mx1.wingtip-isp.example; 5 Mar 2019 10:00 +0000",
            ]), firstSeen: Self.firstSeen)
        #expect(bounce.sender == "")

        let exim = isp.recover(
            block([
                "Received: from x.example ([192.0.2.1]) by mx1.wingtip-isp.example (Exim 4.96) (envelope-from "
                    + "<list-bounces@lists.example>) id 1; 5 Mar 2019 10:00 +0000",
                "Return-Path: <forged@attacker.example>",
            ]), firstSeen: Self.firstSeen)
        #expect(exim.sender == "list-bounces@lists.example")
        #expect(exim.senderProvenance == Provenance(header: "Received", position: 0, trusted: true))
        #expect(exim.notes.contains("Return-Path (field 1) is below the trust boundary: sender-controlled, ignored"))
    }

    @Test func arrivalFallsBackThroughDateToFirstSeen() {
        let future = isp.recover(
            block([
                "Received: from x.example (x.example [192.0.2.1]) by mx1.wingtip-isp.example; 5 Mar 2039 10:00 +0000",
                "Date: Tue, 5 Mar 2019 08:00:00 -0000",
            ]), firstSeen: Self.firstSeen)
        #expect(future.arrivalSource == .dateHeader)
        #expect(future.arrival == utc(2019, 3, 5, 8, 0, 0))
        #expect(future.notes.contains("Received (field 0) is dated after it was first seen; skipped"))

        let nothing = isp.recover(block(["Subject: hi", "Date: someday"]), firstSeen: Self.firstSeen)
        #expect(nothing.arrivalSource == .firstSeen)
        #expect(nothing.arrival == Self.firstSeen)
        #expect(nothing.arrivalProvenance == nil)
    }

    @Test func trustedHostMatching() {
        let recovery = EnvelopeRecovery(
            trustedHosts: ["MX1.Wingtip-ISP.example", ".store.example", "192.0.2.9"],
            localDomains: [])
        #expect(recovery.isTrusted(host: "mx1.wingtip-isp.example."))
        #expect(recovery.isTrusted(host: "a.store.example"))
        #expect(!recovery.isTrusted(host: "store.example"))
        #expect(!recovery.isTrusted(host: "evilstore.example"))
        #expect(recovery.isTrusted(host: "[192.0.2.9]"))
        #expect(!recovery.isTrusted(host: "mx1.wingtip-isp.example.attacker.example"))
    }

    @Test func mailingListAndToCc() {
        let envelope = isp.recover(
            block([
                "List-Id: Trey Research announcements <mailinglist.treyresearch.net>",
                "List-Post: <mailto:MailingList@treyresearch.net?subject=hi>",
                "To: Trey list <mailinglist@treyresearch.net>",
                "Cc: kelly@wingtiptoys.com, \"Bob\" <bob@wingtiptoys.com>",
            ]), firstSeen: Self.firstSeen)
        #expect(
            envelope.mailingList
                == MailingList(
                    id: "mailinglist.treyresearch.net",
                    address: "mailinglist@treyresearch.net"))
        #expect(
            envelope.headerRecipients.map(\.address)
                == ["mailinglist@treyresearch.net", "kelly@wingtiptoys.com", "bob@wingtiptoys.com"])
        #expect(envelope.headerRecipients.map(\.provenance.trusted) == [false, false, false])
    }

    /// A header of the largest size read (1 MiB), made of trace fields, stays within the limits and is quick.
    @Test func hugeTraceHeadersStayBounded() {
        var text = ""
        for index in 0..<6_000 {
            text +=
                index % 3 == 0
                ? "Delivered-To: user\(index)@wingtiptoys.com\r\n"
                : "Received: from a\(index).example (a\(index).example [192.0.2.1]) by mx1.wingtip-isp.example "
                    + "for <u\(index)@wingtiptoys.com>; Tue, 5 Mar 2019 10:00:00 +0000\r\n"
        }
        let started = Date()
        let headers = HeaderBlock(parsing: Array(text.utf8))
        #expect(headers.fields.count == HeaderBlock.Limits.default.fields)
        #expect(headers.truncated)
        let envelope = isp.recover(headers, firstSeen: Self.firstSeen)
        #expect(envelope.recipients.count == 1)
        #expect(envelope.notes.count <= 121)
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func envelopesRoundTripAsJSON() throws {
        let envelope = isp.recover(block(["X-Original-To: a@wingtiptoys.com"]), firstSeen: Self.firstSeen)
        let data = try JSONEncoder().encode(envelope)
        #expect(try JSONDecoder().decode(RecoveredEnvelope.self, from: data) == envelope)
    }
}
