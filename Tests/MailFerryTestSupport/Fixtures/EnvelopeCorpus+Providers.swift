@testable import MailCore

// Exim, qmail, Sendmail, Exchange Online, and a provider nobody could name (no trustedHosts).
extension EnvelopeCorpus {
    /// Exim local delivery prepends Return-path, Envelope-to (every envelope recipient of this copy) and
    /// Delivery-date; its Received has `for` only when the message had one recipient.
    static let exim: [EnvelopeCorpusCase] = [
        EnvelopeCorpusCase(
            name: "exim-one-copy-fans-out",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <newsletter@fabrikam.example>
                Envelope-to: chris@wingtiptoys.com, kelly@wingtiptoys.com
                Delivery-date: Wed, 19 Nov 2025 10:02:03 +0000
                Received: from mail.fabrikam.example ([192.0.2.30] helo=mail.fabrikam.example)
                \tby mx.exim-isp.example with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384
                \t(Exim 4.96)
                \t(envelope-from <newsletter@fabrikam.example>)
                \tid 1vLm3N-0004aB-2x;
                \tWed, 19 Nov 2025 10:02:03 +0000
                From: Fabrikam <newsletter@fabrikam.example>
                To: chris@wingtiptoys.com, kelly@wingtiptoys.com, alice@fabrikam.example
                Subject: Partner update
                Date: Wed, 19 Nov 2025 10:01:00 +0000
                Message-ID: <update-11@fabrikam.example>

                News for partners.

                """),
            sender: "newsletter@fabrikam.example",
            recipients: [
                trusted("chris@wingtiptoys.com", "Envelope-To", 1),
                trusted("kelly@wingtiptoys.com", "Envelope-To", 1),
            ],
            arrival: "2025-11-19 10:02:03", arrivalSource: .providerReceived,
            deliveries: [
                deliver("chris@contoso.example", "chris@wingtiptoys.com"),
                deliver("kelly@contoso.example", "kelly@wingtiptoys.com"),
            ]),

        EnvelopeCorpusCase(
            name: "exim-once-per-mailbox-not-per-recipient",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <events@adventure-works.example>
                Envelope-to: chris@wingtiptoys.com, chris.miller@wingtiptoys.com, sales@wingtiptoys.com,
                \tkelly@wingtiptoys.com
                Delivery-date: Wed, 19 Nov 2025 11:00:00 +0000
                Received: from mail.adventure-works.example ([198.51.100.20])
                \tby mx.exim-isp.example with esmtp (Exim 4.96)
                \t(envelope-from <events@adventure-works.example>)
                \tid 1vLn0A-0005bC-3y;
                \tWed, 19 Nov 2025 11:00:00 +0000
                From: Adventure Works Events <events@adventure-works.example>
                To: chris@wingtiptoys.com, sales@wingtiptoys.com
                Cc: chris.miller@wingtiptoys.com, kelly@wingtiptoys.com
                Subject: Toy fair invitation
                Date: Wed, 19 Nov 2025 10:59:00 +0000

                You are invited.

                """),
            sender: "events@adventure-works.example",
            recipients: [
                trusted("chris@wingtiptoys.com", "Envelope-To", 1),
                trusted("chris.miller@wingtiptoys.com", "Envelope-To", 1),
                trusted("sales@wingtiptoys.com", "Envelope-To", 1),
                trusted("kelly@wingtiptoys.com", "Envelope-To", 1),
            ],
            arrival: "2025-11-19 11:00:00", arrivalSource: .providerReceived,
            deliveries: [
                deliver("chris@contoso.example", "chris@wingtiptoys.com", "chris.miller@wingtiptoys.com"),
                deliver("kelly@contoso.example", "sales@wingtiptoys.com", "kelly@wingtiptoys.com"),
            ]),

        EnvelopeCorpusCase(
            name: "exim-single-recipient",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <bob@adventure-works.example>
                Envelope-to: bob@wingtiptoys.com
                Delivery-date: Tue, 18 Nov 2025 15:16:17 +0000
                Received: from mail.adventure-works.example ([198.51.100.20])
                \tby mx.exim-isp.example with esmtp (Exim 4.96)
                \t(envelope-from <bob@adventure-works.example>)
                \tid 1vKx2Y-0001aB-3c
                \tfor bob@wingtiptoys.com; Tue, 18 Nov 2025 15:16:17 +0000
                From: Bob Stone <bob@adventure-works.example>
                To: bob@wingtiptoys.com
                Subject: Same name, other company
                Date: Tue, 18 Nov 2025 15:16:00 +0000

                Hello namesake.

                """),
            sender: "bob@adventure-works.example",
            recipients: [trusted("bob@wingtiptoys.com", "Envelope-To", 1)],
            arrival: "2025-11-18 15:16:17", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "exim-forged-envelope-to-below-boundary",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <promo@shady.example>
                Envelope-to: alice@wingtiptoys.com
                Delivery-date: Tue, 18 Nov 2025 16:00:00 +0000
                Received: from [203.0.113.9] (helo=mx.exim-isp.example)
                \tby mx.exim-isp.example with esmtp (Exim 4.96)
                \t(envelope-from <promo@shady.example>)
                \tid 1vKx3Z-0002bC-4d
                \tfor alice@wingtiptoys.com; Tue, 18 Nov 2025 16:00:00 +0000
                Received: from mail.wingtiptoys.com by mx.exim-isp.example with local (Exim 4.96)
                \t(envelope-from <ceo@wingtiptoys.com>) id 1vKx00-0000aA-00
                \tfor ceo@wingtiptoys.com; Tue, 18 Nov 2025 15:59:00 +0000
                Envelope-to: ceo@wingtiptoys.com
                From: ceo@wingtiptoys.com
                To: alice@wingtiptoys.com
                Subject: Gift cards
                Date: Tue, 18 Nov 2025 15:59:30 +0000

                Buy gift cards for the team.

                """),
            sender: "promo@shady.example",
            recipients: [trusted("alice@wingtiptoys.com", "Envelope-To", 1)],
            arrival: "2025-11-18 16:00:00", arrivalSource: .providerReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com")],
            notes: [
                "Envelope-To (field 5) is below the trust boundary",
                "Received (field 4) below the trust boundary claims to be by mx.exim-isp.example",
            ]),

        EnvelopeCorpusCase(
            name: "exim-known-and-unknown-recipients",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <alice@fabrikam.example>
                Envelope-to: bob@wingtiptoys.com, ghost@wingtiptoys.com
                Delivery-date: Mon, 17 Nov 2025 09:00:00 +0000
                Received: from mail.fabrikam.example ([192.0.2.30] helo=mail.fabrikam.example)
                \tby mx.exim-isp.example with esmtps (Exim 4.96)
                \t(envelope-from <alice@fabrikam.example>)
                \tid 1vJw1X-0003cD-5e;
                \tMon, 17 Nov 2025 09:00:00 +0000
                From: alice@fabrikam.example
                To: bob@wingtiptoys.com, ghost@wingtiptoys.com
                Subject: Team list
                Date: Mon, 17 Nov 2025 08:59:00 +0000

                One of you left long ago.

                """),
            sender: "alice@fabrikam.example",
            recipients: [
                trusted("bob@wingtiptoys.com", "Envelope-To", 1),
                trusted("ghost@wingtiptoys.com", "Envelope-To", 1),
            ],
            arrival: "2025-11-17 09:00:00", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com"), toFallback("ghost@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "exim-mailing-list-header",
            provider: .exim,
            message: corpusMessage(
                """
                Return-path: <announce-return-12-dana=wingtiptoys.com@lists.adventure-works.example>
                Envelope-to: dana@wingtiptoys.com
                Delivery-date: Mon, 17 Nov 2025 07:00:01 +0000
                Received: from lists.adventure-works.example ([198.51.100.21])
                \tby mx.exim-isp.example with esmtp (Exim 4.96)
                \t(envelope-from <announce-return-12-dana=wingtiptoys.com@lists.adventure-works.example>)
                \tid 1vJv9Z-0009zZ-1a
                \tfor dana@wingtiptoys.com; Mon, 17 Nov 2025 07:00:01 +0000
                Mailing-List: list announce@lists.adventure-works.example;
                	contact announce-owner@lists.adventure-works.example
                Precedence: bulk
                From: Adventure Works <announce@lists.adventure-works.example>
                To: announce@lists.adventure-works.example
                Subject: Winter catalogue
                Date: Mon, 17 Nov 2025 06:59:00 +0000

                Our winter catalogue.

                """),
            sender: "announce-return-12-dana=wingtiptoys.com@lists.adventure-works.example",
            recipients: [trusted("dana@wingtiptoys.com", "Envelope-To", 1)],
            arrival: "2025-11-17 07:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com")]),
    ]

    /// qmail with `virtualdomains` `wingtiptoys.com:wingtiptoys.com`: Delivered-To carries the prefixed form; the
    /// plan sets `qmailPrefix: .domain`.
    static let qmail: [EnvelopeCorpusCase] = [
        EnvelopeCorpusCase(
            name: "qmail-virtual-domain-prefix",
            provider: .qmail,
            message: corpusMessage(
                """
                Return-Path: <dana@adventure-works.example>
                Delivered-To: wingtiptoys.com-dana@wingtiptoys.com
                Received: (qmail 28417 invoked by uid 89); 19 Nov 2025 14:20:05 -0000
                Received: from unknown (HELO mail.adventure-works.example) (198.51.100.20)
                  by mx.qmail-isp.example with SMTP; 19 Nov 2025 14:20:04 -0000
                From: Dana Wu <dana@adventure-works.example>
                To: dana@wingtiptoys.com
                Subject: Same first name
                Date: Wed, 19 Nov 2025 15:20:00 +0100

                Hi Dana!

                """),
            sender: "dana@adventure-works.example",
            recipients: [trusted("dana@wingtiptoys.com", "Delivered-To", 1)],
            arrival: "2025-11-19 14:20:05", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com")],
            notes: ["qmail prefix removed, wingtiptoys.com-dana@wingtiptoys.com → dana@wingtiptoys.com"]),

        EnvelopeCorpusCase(
            name: "qmail-unknown-local-address",
            provider: .qmail,
            message: corpusMessage(
                """
                Return-Path: <scanner@security-audit.example>
                Delivered-To: wingtiptoys.com-webmaster@wingtiptoys.com
                Received: (qmail 28500 invoked by uid 89); 19 Nov 2025 15:00:01 -0000
                Received: from unknown (HELO scan.security-audit.example) (203.0.113.50)
                  by mx.qmail-isp.example with SMTP; 19 Nov 2025 15:00:00 -0000
                From: scanner@security-audit.example
                To: webmaster@wingtiptoys.com
                Subject: Your site has 3 issues
                Date: Wed, 19 Nov 2025 15:59:00 +0100

                Report attached.

                """),
            sender: "scanner@security-audit.example",
            recipients: [trusted("webmaster@wingtiptoys.com", "Delivered-To", 1)],
            arrival: "2025-11-19 15:00:01", arrivalSource: .providerReceived,
            deliveries: [toFallback("webmaster@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "qmail-multiple-delivered-to",
            provider: .qmail,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                Delivered-To: wingtiptoys.com-everyone@wingtiptoys.com
                Received: (qmail 30001 invoked by alias); 12 Nov 2025 08:00:02 -0000
                Delivered-To: wingtiptoys.com-bob@wingtiptoys.com
                Received: (qmail 30000 invoked by uid 89); 12 Nov 2025 08:00:01 -0000
                Received: from unknown (HELO mail.fabrikam.example) (192.0.2.25)
                  by mx.qmail-isp.example with SMTP; 12 Nov 2025 08:00:00 -0000
                From: alice@fabrikam.example
                To: bob@wingtiptoys.com
                Subject: Forwarded by a .qmail file
                Date: Wed, 12 Nov 2025 08:59:00 +0100

                Text.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("bob@wingtiptoys.com", "Delivered-To", 3)],
            arrival: "2025-11-12 08:00:02", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")],
            notes: ["also seen, not used: everyone@wingtiptoys.com (Delivered-To (field 1, trusted))"]),

        EnvelopeCorpusCase(
            name: "qmail-prefix-then-regex-rule",
            provider: .qmail,
            message: corpusMessage(
                """
                Return-Path: <applicant@fabrikam.example>
                Delivered-To: wingtiptoys.com-careers@wingtiptoys.com
                Received: (qmail 31000 invoked by uid 89); 13 Nov 2025 09:00:01 -0000
                Received: from unknown (HELO mail.fabrikam.example) (192.0.2.25)
                  by mx.qmail-isp.example with SMTP; 13 Nov 2025 09:00:00 -0000
                From: applicant@fabrikam.example
                To: careers@wingtiptoys.com
                Subject: Application
                Date: Thu, 13 Nov 2025 09:59:00 +0100

                CV attached.

                """),
            sender: "applicant@fabrikam.example",
            recipients: [trusted("careers@wingtiptoys.com", "Delivered-To", 1)],
            arrival: "2025-11-13 09:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("hr@contoso.example", "careers@wingtiptoys.com")]),
    ]

    static let others: [EnvelopeCorpusCase] = [
        EnvelopeCorpusCase(
            name: "sendmail-x-envelope-to",
            provider: .sendmail,
            message: corpusMessage(
                """
                Return-Path: <bob@adventure-works.example>
                X-Envelope-To: <alice@wingtiptoys.com>
                Received: from mail.adventure-works.example (mail.adventure-works.example [198.51.100.20])
                \tby smtp.sendmail-isp.example (8.15.2/8.15.2) with ESMTPS id 5AJ81x2Y012345
                \t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NO)
                \tfor <alice@wingtiptoys.com>; Wed, 19 Nov 2025 09:01:02 +0100
                From: bob@adventure-works.example
                To: alice@wingtiptoys.com
                Subject: Sendmail still lives
                Date: Wed, 19 Nov 2025 09:00:30 +0100

                Text.

                """),
            sender: "bob@adventure-works.example",
            recipients: [trusted("alice@wingtiptoys.com", "X-Envelope-To", 1)],
            arrival: "2025-11-19 08:01:02", arrivalSource: .providerReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "sendmail-x-envelope-to-two-recipients",
            provider: .sendmail,
            message: corpusMessage(
                """
                Return-Path: <bob@adventure-works.example>
                X-Envelope-To: <bob@wingtiptoys.com>, <dana@wingtiptoys.com>
                Received: from mail.adventure-works.example (mail.adventure-works.example [198.51.100.20])
                \tby smtp.sendmail-isp.example (8.15.2/8.15.2) with ESMTPS id 5AJ82a3B012346;
                \tWed, 19 Nov 2025 09:05:02 +0100
                From: bob@adventure-works.example
                To: Staff <staff@adventure-works.example>
                Subject: Bcc to two people at Wingtip
                Date: Wed, 19 Nov 2025 09:04:30 +0100

                Text.

                """),
            sender: "bob@adventure-works.example",
            recipients: [
                trusted("bob@wingtiptoys.com", "X-Envelope-To", 1),
                trusted("dana@wingtiptoys.com", "X-Envelope-To", 1),
            ],
            arrival: "2025-11-19 08:05:02", arrivalSource: .providerReceived,
            deliveries: [
                deliver("bob@contoso.example", "bob@wingtiptoys.com"),
                deliver("dana@contoso.example", "dana@wingtiptoys.com"),
            ]),

        EnvelopeCorpusCase(
            name: "exchange-to-as-a-guess",
            provider: .exchange,
            message: corpusMessage(
                """
                Return-Path: alice@fabrikam.example
                Received: from DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1::1) by
                 DM6PR12MB5678.namprd12.prod.outlook.com with HTTPS; Thu, 20 Nov 2025 07:30:02
                 +0000
                Received: from BN8NAM12FT012.eop-nam12.prod.protection.outlook.com
                 (2603:10b6:408:e1:cafe::1) by DM6PR12MB1234.namprd12.prod.outlook.com
                 (2603:10b6:5:1::1) with Microsoft SMTP Server (version=TLS1_2,
                 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8158.12; Thu, 20 Nov
                 2025 07:30:01 +0000
                Received: from mail.fabrikam.example (192.0.2.25) by
                 BN8NAM12FT012.mail.protection.outlook.com (10.13.182.45) with Microsoft SMTP
                 Server id 15.20.8158.12 via Frontend Transport; Thu, 20 Nov 2025 07:30:00
                 +0000
                Authentication-Results: spf=pass (sender IP is 192.0.2.25)
                 smtp.mailfrom=fabrikam.example; dkim=none (message not signed)
                From: Alice Ruiz <alice@fabrikam.example>
                To: Kelly <kelly@wingtiptoys.com>
                Subject: Samples
                Date: Thu, 20 Nov 2025 07:29:00 +0000
                Message-ID: <samples@fabrikam.example>

                The samples are on their way.

                """),
            sender: "alice@fabrikam.example",
            recipients: [],
            arrival: "2025-11-20 07:30:02", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "kelly@wingtiptoys.com", guessed: true)],
            notes: [
                "trust boundary: Received (field 3) by bn8nam12ft012.mail.protection.outlook.com",
                "no envelope recipient: To/Cc used as a guess",
            ]),

        EnvelopeCorpusCase(
            name: "exchange-to-and-cc-as-a-guess",
            provider: .exchange,
            message: corpusMessage(
                """
                Received: from DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1::1) by
                 DM6PR12MB5678.namprd12.prod.outlook.com with HTTPS; Thu, 20 Nov 2025 06:10:02
                 +0000
                Received: from mail.fabrikam.example (192.0.2.25) by
                 DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1::1) with Microsoft SMTP
                 Server id 15.20.8158.12; Thu, 20 Nov 2025 06:10:01 +0000
                From: Alice Ruiz <alice@fabrikam.example>
                To: alice@wingtiptoys.com
                Cc: "Bob" <bob@wingtiptoys.com>, Partner <partner@fabrikam.example>
                Subject: Three of us
                Date: Thu, 20 Nov 2025 06:09:00 +0000

                Text.

                """),
            sender: nil,
            recipients: [],
            arrival: "2025-11-20 06:10:02", arrivalSource: .providerReceived,
            deliveries: [
                deliver("alice@contoso.example", "alice@wingtiptoys.com", guessed: true),
                deliver("bob@contoso.example", "bob@wingtiptoys.com", guessed: true),
            ],
            notes: ["partner@fabrikam.example from Cc (field 4, guessed): not in wingtiptoys.com, wingtiptoys.net"]),

        EnvelopeCorpusCase(
            name: "exchange-list-without-envelope-goes-to-fallback",
            provider: .exchange,
            message: corpusMessage(
                """
                Received: from mail.adventure-works.example (198.51.100.20) by
                 DM6PR12MB5678.namprd12.prod.outlook.com (2603:10b6:5:2::1) with Microsoft SMTP
                 Server id 15.20.8158.12; Thu, 20 Nov 2025 05:00:01 +0000
                From: Events <events@lists.adventure-works.example>
                To: events@lists.adventure-works.example
                Cc: chris@wingtiptoys.com
                List-Id: Adventure Works events <events.lists.adventure-works.example>
                Subject: [events] Skating on Sunday
                Date: Thu, 20 Nov 2025 04:59:00 +0000

                Text.

                """),
            sender: nil,
            recipients: [],
            arrival: "2025-11-20 05:00:01", arrivalSource: .providerReceived,
            deliveries: [toFallback()],
            notes: ["a mailing-list message: To/Cc not used"]),

        EnvelopeCorpusCase(
            name: "exchange-forged-x-original-to-below-boundary",
            provider: .exchange,
            message: corpusMessage(
                """
                Received: from attacker.example (203.0.113.66) by
                 DM6PR12MB5678.namprd12.prod.outlook.com (2603:10b6:5:2::1) with Microsoft SMTP
                 Server id 15.20.8158.12; Wed, 19 Nov 2025 23:00:01 +0000
                X-Original-To: ceo@wingtiptoys.com
                Delivered-To: ceo@wingtiptoys.com
                From: ceo@wingtiptoys.com
                To: chris@wingtiptoys.com
                Subject: Quick favour
                Date: Wed, 19 Nov 2025 22:59:00 +0000

                Text.

                """),
            sender: nil,
            recipients: [],
            arrival: "2025-11-19 23:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com", guessed: true)],
            notes: ["X-Original-To (field 1) is below the trust boundary"]),

        EnvelopeCorpusCase(
            name: "unknown-provider-guessed-from-received-for",
            provider: .unknown,
            message: corpusMessage(
                """
                Delivered-To: chris@wingtiptoys.com
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26])
                \tby pop.old-isp.example (Postfix) with ESMTP id 11AA22BB33
                \tfor <chris@wingtiptoys.com>; Tue, 04 Nov 2025 10:00:00 +0100 (CET)
                From: alice@fabrikam.example
                To: chris@wingtiptoys.com
                Subject: Old provider
                Date: Tue, 04 Nov 2025 09:59:00 +0100

                Text.

                """),
            sender: nil,
            recipients: [guessed("chris@wingtiptoys.com", "Received", 1)],
            arrival: "2025-11-04 09:00:00", arrivalSource: .topmostReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com", guessed: true)],
            notes: ["no trustedHosts in the plan"]),

        EnvelopeCorpusCase(
            name: "unknown-provider-gmail-forwarded",
            provider: .unknown,
            message: corpusMessage(
                """
                Return-Path: <alice.private@gmail.com>
                Delivered-To: alice@wingtiptoys.com
                Received: from mail-sor-f65.google.com (mail-sor-f65.google.com [209.85.220.65])
                \tby pop.old-isp.example (Postfix) with ESMTPS id 22BB33CC44;
                \tTue, 04 Nov 2025 11:00:01 +0100 (CET)
                X-Forwarded-To: alice@wingtiptoys.com
                Delivered-To: alice.private@gmail.com
                Received: from mail.fabrikam.example (mail.fabrikam.example. [192.0.2.25])
                        by mx.google.com with ESMTPS id b2si7654321qkc.45.2025.11.04.02.00.00
                        for <alice.private@gmail.com>;
                        Tue, 04 Nov 2025 02:00:00 -0800 (PST)
                From: alice@fabrikam.example
                To: alice.private@gmail.com
                Subject: To my private address
                Date: Tue, 04 Nov 2025 10:59:00 +0100

                Text.

                """),
            sender: "alice.private@gmail.com",
            recipients: [guessed("alice@wingtiptoys.com", "Delivered-To", 1)],
            arrival: "2025-11-04 10:00:01", arrivalSource: .topmostReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com", guessed: true)]),

        EnvelopeCorpusCase(
            name: "unknown-provider-no-trace-no-date",
            provider: .unknown,
            message: corpusMessage(
                """
                From: someone@fabrikam.example
                Subject: no trace at all

                Text.

                """),
            sender: nil,
            recipients: [],
            arrival: "2025-11-20 08:00:00", arrivalSource: .firstSeen,
            deliveries: [toFallback()],
            notes: ["arrival time unknown: first-seen time used"]),

        EnvelopeCorpusCase(
            name: "unknown-provider-obsolete-date",
            provider: .unknown,
            message: corpusMessage(
                """
                X-Envelope-To: bob@wingtiptoys.com
                From: someone@fabrikam.example
                To: bob@wingtiptoys.com
                Subject: Written by a very old client
                Date: Wed, 19 Nov 25 10:00 EST

                Text.

                """),
            sender: nil,
            recipients: [guessed("bob@wingtiptoys.com", "X-Envelope-To", 0)],
            arrival: "2025-11-19 15:00:00", arrivalSource: .dateHeader,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com", guessed: true)]),
    ]
}
