@testable import MailCore

// Postfix ISP: mx1/mx2.wingtip-isp.example accept mail, store.wingtip-isp.example delivers it with virtual(8)
// into the catch-all maildrop everyone@wingtip-isp.example (virtual alias @wingtiptoys.com → everyone). virtual(8)
// prepends Return-Path, X-Original-To (the RCPT TO it got) and Delivered-To (the mailbox).
extension EnvelopeCorpus {
    static let postfix: [EnvelopeCorpusCase] = [
        EnvelopeCorpusCase(
            name: "postfix-plain",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: chris@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 3F2A1C0042
                \tfor <chris@wingtiptoys.com>; Tue, 18 Nov 2025 09:14:07 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 4dA1x2Y3z4
                \tfor <chris@wingtiptoys.com>; Tue, 18 Nov 2025 09:14:06 +0100 (CET)
                DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=fabrikam.example; s=mail;
                \th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
                \tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==
                From: Alice Ruiz <alice@fabrikam.example>
                To: Chris <chris@wingtiptoys.com>
                Subject: Quarterly numbers
                Date: Tue, 18 Nov 2025 09:13:58 +0100
                Message-ID: <20251118081358.1@fabrikam.example>
                MIME-Version: 1.0
                Content-Type: text/plain; charset=utf-8

                Hi Chris, the numbers are attached.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("chris@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-18 08:14:07", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com")]),

        // Must show: a Bcc'd message in a catch-all mailbox reaches the right person (not the To person).
        EnvelopeCorpusCase(
            name: "postfix-bcc-in-catch-all",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: dana@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 8C11D0041
                \tfor <dana@wingtiptoys.com>; Tue, 18 Nov 2025 10:02:11 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 5eB2c3D4e5;
                \tTue, 18 Nov 2025 10:02:10 +0100 (CET)
                From: Alice Ruiz <alice@fabrikam.example>
                To: Bob <bob@wingtiptoys.com>
                Subject: Offer (confidential)
                Date: Tue, 18 Nov 2025 10:01:40 +0100
                Message-ID: <20251118090140.7@fabrikam.example>

                Bob, Dana is in Bcc.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("dana@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-18 09:02:11", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-cc-copy",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 8C11D0042
                \tfor <bob@wingtiptoys.com>; Tue, 18 Nov 2025 10:02:12 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 5eB2c3D4e6;
                \tTue, 18 Nov 2025 10:02:10 +0100 (CET)
                From: Alice Ruiz <alice@fabrikam.example>
                To: Alice <alice@wingtiptoys.com>
                Cc: Bob <bob@wingtiptoys.com>
                Subject: Lunch
                Date: Tue, 18 Nov 2025 10:01:55 +0100
                Message-ID: <20251118090155.8@fabrikam.example>

                Lunch on Friday?

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-18 09:02:12", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")]),

        // Must show: a message for an unknown local address reaches the fallback mailbox.
        EnvelopeCorpusCase(
            name: "postfix-unknown-local-address",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <billing@adventure-works.example>
                X-Original-To: nobody@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 1A2B3C0001
                \tfor <nobody@wingtiptoys.com>; Wed, 12 Nov 2025 14:00:01 +0100 (CET)
                Received: from mail.adventure-works.example (mail.adventure-works.example [198.51.100.20])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 2B3C4D5E6F
                \tfor <nobody@wingtiptoys.com>; Wed, 12 Nov 2025 14:00:00 +0100 (CET)
                From: Billing <billing@adventure-works.example>
                To: nobody@wingtiptoys.com
                Subject: Invoice 2025-118
                Date: Wed, 12 Nov 2025 13:59:41 +0100
                Message-ID: <inv-2025-118@adventure-works.example>

                Please find the invoice attached.

                """),
            sender: "billing@adventure-works.example",
            recipients: [trusted("nobody@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-12 13:00:01", arrivalSource: .providerReceived,
            deliveries: [toFallback("nobody@wingtiptoys.com")],
            notes: ["unknown local address (nobody@contoso.example is not a known mailbox)"]),

        // Must show: a spoofed Received (and X-Original-To, Delivered-To, Envelope-To) below the trust boundary
        // does not change routing.
        EnvelopeCorpusCase(
            name: "postfix-forged-trace-below-boundary",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <mallory@attacker.example>
                X-Original-To: chris@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 77AA1C0042
                \tfor <chris@wingtiptoys.com>; Wed, 19 Nov 2025 03:12:44 +0100 (CET)
                Received: from attacker.example (attacker.example [203.0.113.66])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTP id 9ZZ8YY7XX6
                \tfor <chris@wingtiptoys.com>; Wed, 19 Nov 2025 03:12:43 +0100 (CET)
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTP id 1AA2BB3CC4
                \tfor <ceo@wingtiptoys.com>; Wed, 19 Nov 2025 03:10:00 +0100 (CET)
                X-Original-To: ceo@wingtiptoys.com
                Delivered-To: ceo@wingtiptoys.com
                Envelope-To: ceo@wingtiptoys.com
                From: "Wingtip CEO" <ceo@wingtiptoys.com>
                To: chris@wingtiptoys.com
                Subject: Urgent wire transfer
                Date: Wed, 19 Nov 2025 03:11:00 +0100
                Message-ID: <forged.1@attacker.example>

                Please wire the money today.

                """),
            sender: "mallory@attacker.example",
            recipients: [trusted("chris@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-19 02:12:44", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com")],
            notes: [
                "Received (field 5) below the trust boundary claims to be by mx1.wingtip-isp.example",
                "X-Original-To (field 6) is below the trust boundary: sender-controlled, ignored",
                "Envelope-To (field 8) is below the trust boundary",
            ]),

        EnvelopeCorpusCase(
            name: "postfix-alias-address",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <orders@fabrikam.example>
                X-Original-To: sales@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 5D6E7F0010
                \tfor <sales@wingtiptoys.com>; Thu, 13 Nov 2025 08:30:05 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 6E7F8A9B0C
                \tfor <sales@wingtiptoys.com>; Thu, 13 Nov 2025 08:30:04 +0100 (CET)
                From: Fabrikam Orders <orders@fabrikam.example>
                To: sales@wingtiptoys.com
                Subject: Order 4711
                Date: Thu, 13 Nov 2025 08:29:50 +0100
                Message-ID: <order-4711@fabrikam.example>

                200 wooden trains, please.

                """),
            sender: "orders@fabrikam.example",
            recipients: [trusted("sales@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-13 07:30:05", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "sales@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-alias-local-part-then-rewrite",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: chris.miller@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 5D6E7F0011
                \tfor <chris.miller@wingtiptoys.com>; Thu, 13 Nov 2025 09:00:05 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 6E7F8A9B0D
                \tfor <chris.miller@wingtiptoys.com>; Thu, 13 Nov 2025 09:00:04 +0100 (CET)
                From: Alice Ruiz <alice@fabrikam.example>
                To: Chris Miller <chris.miller@wingtiptoys.com>
                Subject: Old address still works?
                Date: Thu, 13 Nov 2025 08:59:00 +0100
                Message-ID: <old-address@fabrikam.example>

                Testing your old address.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("chris.miller@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-13 08:00:05", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris.miller@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-rule-exact-address",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <press@adventure-works.example>
                X-Original-To: CEO@WingtipToys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 0F1E2D0003
                \tfor <CEO@WingtipToys.com>; Fri, 14 Nov 2025 16:20:31 +0100 (CET)
                Received: from mail.adventure-works.example (mail.adventure-works.example [198.51.100.20])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 1E2D3C4B5A
                \tfor <CEO@WingtipToys.com>; Fri, 14 Nov 2025 16:20:30 +0100 (CET)
                From: Press Office <press@adventure-works.example>
                To: ceo@wingtiptoys.com
                Subject: Interview request
                Date: Fri, 14 Nov 2025 16:20:00 +0100
                Message-ID: <press-77@adventure-works.example>

                Would your CEO have time for an interview?

                """),
            sender: "press@adventure-works.example",
            recipients: [trusted("ceo@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-14 15:20:31", arrivalSource: .providerReceived,
            deliveries: [deliver("sam@contoso.example", "ceo@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-rule-regex-subaddress",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <noreply@jobs-portal.example>
                X-Original-To: jobs+website@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 0F1E2D0004
                \tfor <jobs+website@wingtiptoys.com>; Sat, 15 Nov 2025 06:00:02 +0100 (CET)
                Received: from out.jobs-portal.example (out.jobs-portal.example [198.51.100.77])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 3C4B5A6978
                \tfor <jobs+website@wingtiptoys.com>; Sat, 15 Nov 2025 06:00:01 +0100 (CET)
                From: Jobs Portal <noreply@jobs-portal.example>
                To: jobs+website@wingtiptoys.com
                Subject: New application: warehouse lead
                Date: Sat, 15 Nov 2025 05:59:59 +0100
                Message-ID: <app-991@jobs-portal.example>

                A new application arrived.

                """),
            sender: "noreply@jobs-portal.example",
            recipients: [trusted("jobs+website@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-15 05:00:02", arrivalSource: .providerReceived,
            deliveries: [deliver("hr@contoso.example", "jobs+website@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-mailing-list-with-rule",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <mailinglist-bounces+bob=wingtiptoys.com@treyresearch.net>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 2C3D4E0005
                \tfor <bob@wingtiptoys.com>; Mon, 17 Nov 2025 12:00:03 +0100 (CET)
                Received: from lists.treyresearch.net (lists.treyresearch.net [198.51.100.99])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 4E5F6A7B8C
                \tfor <bob@wingtiptoys.com>; Mon, 17 Nov 2025 12:00:02 +0100 (CET)
                Received: from mail.treyresearch.net (mail.treyresearch.net [198.51.100.98])
                \tby lists.treyresearch.net (Postfix) with ESMTP id 5F6A7B8C9D
                \tfor <mailinglist@treyresearch.net>; Mon, 17 Nov 2025 12:00:00 +0100 (CET)
                From: Pat Lee <pat@treyresearch.net>
                To: mailinglist@treyresearch.net
                Subject: [Trey] Meeting notes
                List-Id: Trey Research discussion <mailinglist.treyresearch.net>
                List-Post: <mailto:mailinglist@treyresearch.net>
                List-Unsubscribe: <mailto:mailinglist-leave@treyresearch.net>
                Precedence: list
                Date: Mon, 17 Nov 2025 11:59:30 +0100
                Message-ID: <notes-17@treyresearch.net>

                Notes from today's meeting.

                """),
            sender: "mailinglist-bounces+bob=wingtiptoys.com@treyresearch.net",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-17 11:00:03", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "bob@wingtiptoys.com")],
            notes: ["list mailinglist@treyresearch.net matches rule 0"]),

        EnvelopeCorpusCase(
            name: "postfix-mailing-list-by-envelope-not-to",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <dev-bounces@lists.fabrikam.example>
                X-Original-To: alice@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 2C3D4E0006
                \tfor <alice@wingtiptoys.com>; Mon, 17 Nov 2025 13:10:03 +0100 (CET)
                Received: from lists.fabrikam.example (lists.fabrikam.example [192.0.2.40])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 6A7B8C9D0E
                \tfor <alice@wingtiptoys.com>; Mon, 17 Nov 2025 13:10:02 +0100 (CET)
                From: Sam Ortiz <sam@fabrikam.example>
                To: Developers <dev@lists.fabrikam.example>
                Cc: bob@wingtiptoys.com
                Subject: [dev] Release 4.2
                List-Id: <dev.lists.fabrikam.example>
                List-Post: <mailto:dev@lists.fabrikam.example>
                Date: Mon, 17 Nov 2025 13:09:00 +0100
                Message-ID: <rel-4.2@fabrikam.example>

                Release 4.2 is out.

                """),
            sender: "dev-bounces@lists.fabrikam.example",
            recipients: [trusted("alice@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-17 12:10:03", arrivalSource: .providerReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-header-rule-spam-flag",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <promo@cheap-watches.example>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 9A8B7C0007
                \tfor <bob@wingtiptoys.com>; Sun, 16 Nov 2025 04:44:45 +0100 (CET)
                X-Spam-Flag: YES
                X-Spam-Score: 9.1
                Received: from cheap-watches.example (cheap-watches.example [203.0.113.200])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTP id 8B7C6D5E4F
                \tfor <bob@wingtiptoys.com>; Sun, 16 Nov 2025 04:44:44 +0100 (CET)
                From: Deals <promo@cheap-watches.example>
                To: bob@wingtiptoys.com
                Subject: 90% off
                Date: Sun, 16 Nov 2025 04:44:00 +0100
                Message-ID: <deal@cheap-watches.example>

                Buy now.

                """),
            sender: "promo@cheap-watches.example",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-16 03:44:45", arrivalSource: .providerReceived,
            deliveries: [deliver("quarantine@contoso.example", "bob@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-bounce-null-sender",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 9A8B7C0008
                \tfor <bob@wingtiptoys.com>; Tue, 11 Nov 2025 22:10:10 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 7C6D5E4F3A
                \tfor <bob@wingtiptoys.com>; Tue, 11 Nov 2025 22:10:09 +0100 (CET)
                From: Mail Delivery System <MAILER-DAEMON@mail.fabrikam.example>
                To: bob@wingtiptoys.com
                Subject: Undelivered Mail Returned to Sender
                Auto-Submitted: auto-replied
                Date: Tue, 11 Nov 2025 22:10:08 +0100 (CET)
                Message-ID: <20251111211008.ABC@mail.fabrikam.example>
                Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

                --B1--

                """),
            sender: "",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-11 21:10:10", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-second-domain-alias",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <visitor@adventure-works.example>
                X-Original-To: info@wingtiptoys.net
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 1B2C3D0009
                \tfor <info@wingtiptoys.net>; Wed, 12 Nov 2025 10:10:10 +0100 (CET)
                Received: from mail.adventure-works.example (mail.adventure-works.example [198.51.100.20])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 2C3D4E5F6A
                \tfor <info@wingtiptoys.net>; Wed, 12 Nov 2025 10:10:09 +0100 (CET)
                From: visitor@adventure-works.example
                To: info@wingtiptoys.net
                Subject: Opening hours
                Date: Wed, 12 Nov 2025 10:09:00 +0100
                Message-ID: <hours@adventure-works.example>

                When are you open?

                """),
            sender: "visitor@adventure-works.example",
            recipients: [trusted("info@wingtiptoys.net", "X-Original-To", 1)],
            arrival: "2025-11-12 09:10:10", arrivalSource: .providerReceived,
            deliveries: [deliver("reception@contoso.example", "info@wingtiptoys.net")]),

        EnvelopeCorpusCase(
            name: "postfix-mixed-case-address",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <Alice@Fabrikam.Example>
                X-Original-To: Dana@WingtipToys.COM
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 1B2C3D0010
                \tfor <Dana@WingtipToys.COM>; Wed, 12 Nov 2025 11:11:11 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 3D4E5F6A7B
                \tfor <Dana@WingtipToys.COM>; Wed, 12 Nov 2025 11:11:10 +0100 (CET)
                From: Alice <Alice@Fabrikam.Example>
                To: Dana@WingtipToys.COM
                Subject: Case
                Date: Wed, 12 Nov 2025 11:11:00 +0100
                Message-ID: <case@fabrikam.example>

                Upper case everywhere.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("dana@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-12 10:11:11", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-content-filter-on-loopback",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <kelly@fabrikam.example>
                X-Original-To: kelly@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from localhost (localhost [127.0.0.1])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id A1B2C3D4E5
                \tfor <kelly@wingtiptoys.com>; Mon, 17 Nov 2025 16:45:09 +0100 (CET)
                X-Virus-Scanned: amavisd-new at wingtip-isp.example
                Received: from store.wingtip-isp.example ([127.0.0.1])
                \tby localhost (store.wingtip-isp.example [127.0.0.1]) (amavisd-new, port 10024)
                \twith ESMTP id B2C3D4E5F6 for <kelly@wingtiptoys.com>;
                \tMon, 17 Nov 2025 16:45:08 +0100 (CET)
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id C3D4E5F6A7
                \tfor <kelly@wingtiptoys.com>; Mon, 17 Nov 2025 16:45:07 +0100 (CET)
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id D4E5F6A7B8
                \tfor <kelly@wingtiptoys.com>; Mon, 17 Nov 2025 16:45:06 +0100 (CET)
                From: kelly@fabrikam.example
                To: kelly@wingtiptoys.com
                Subject: From my other address
                Date: Mon, 17 Nov 2025 16:45:00 +0100
                Message-ID: <self@fabrikam.example>

                Scanned twice.

                """),
            sender: "kelly@fabrikam.example",
            recipients: [trusted("kelly@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-17 15:45:09", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "kelly@wingtiptoys.com")],
            notes: ["trust boundary: Received (field 7) by mx1.wingtip-isp.example"]),

        EnvelopeCorpusCase(
            name: "postfix-multiple-delivered-to-forward-chain",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                Delivered-To: everyone@wingtip-isp.example
                Received: by store.wingtip-isp.example (Postfix, from userid 5000)
                \tid 7C1D2E3F40; Fri, 14 Nov 2025 11:30:02 +0100 (CET)
                Delivered-To: sales@wingtiptoys.com
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 6B0C1D2E3F;
                \tFri, 14 Nov 2025 11:30:01 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 5A9B0C1D2E;
                \tFri, 14 Nov 2025 11:30:00 +0100 (CET)
                From: Alice Ruiz <alice@fabrikam.example>
                To: sales@wingtiptoys.com, support@fabrikam.example
                Subject: Catalogue 2026
                Date: Fri, 14 Nov 2025 11:29:30 +0100
                Message-ID: <catalogue@fabrikam.example>

                The new catalogue is ready.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("sales@wingtiptoys.com", "Delivered-To", 3)],
            arrival: "2025-11-14 10:30:02", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "sales@wingtiptoys.com")],
            notes: ["everyone@wingtip-isp.example (Delivered-To (field 1, trusted))"]),

        EnvelopeCorpusCase(
            name: "postfix-gmail-forwarded",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <chris.private+caf_=chris=wingtiptoys.com@gmail.com>
                X-Original-To: chris@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id E5F6A7B8C9
                \tfor <chris@wingtiptoys.com>; Sat, 15 Nov 2025 20:05:33 +0100 (CET)
                Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id F6A7B8C9D0
                \tfor <chris@wingtiptoys.com>; Sat, 15 Nov 2025 20:05:32 +0100 (CET)
                X-Forwarded-To: chris@wingtiptoys.com
                X-Forwarded-For: chris.private@gmail.com chris@wingtiptoys.com
                Delivered-To: chris.private@gmail.com
                Received: by 2002:a05:6a10:1234:b0:5a1:2345:6789 with SMTP id x5csp1234567;
                        Sat, 15 Nov 2025 11:05:31 -0800 (PST)
                Received: from mail.adventure-works.example (mail.adventure-works.example. [198.51.100.20])
                        by mx.google.com with ESMTPS id a1si1234567qkb.123.2025.11.15.11.05.30
                        for <chris.private@gmail.com>;
                        Sat, 15 Nov 2025 11:05:30 -0800 (PST)
                From: Dana Wu <dana@adventure-works.example>
                To: chris.private@gmail.com
                Subject: Photos from the trip
                Date: Sat, 15 Nov 2025 20:05:00 +0100
                Message-ID: <photos@adventure-works.example>

                Here are the photos.

                """),
            sender: "chris.private+caf_=chris=wingtiptoys.com@gmail.com",
            recipients: [trusted("chris@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-15 19:05:33", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com")],
            notes: ["Delivered-To (field 7) is below the trust boundary"]),

        EnvelopeCorpusCase(
            name: "postfix-received-for-only",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Dovecot) with LMTP id kEj3GLzVXWe8TgAAqHmyYQ
                \tfor <everyone@wingtip-isp.example>; Thu, 13 Nov 2025 17:00:07 +0100
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26])
                \tby mx2.wingtip-isp.example (Postfix) with ESMTPS id 0A1B2C3D4E
                \tfor <kelly@wingtiptoys.com>; Thu, 13 Nov 2025 17:00:06 +0100 (CET)
                From: Alice <alice@fabrikam.example>
                To: Kelly <kelly@wingtiptoys.com>
                Subject: Contract
                Date: Thu, 13 Nov 2025 16:59:00 +0100
                Message-ID: <contract@fabrikam.example>

                Signed copy attached.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("kelly@wingtiptoys.com", "Received", 3)],
            arrival: "2025-11-13 16:00:07", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "kelly@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "postfix-no-envelope-to-cc-guess",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <news@fabrikam.example>
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Dovecot) with LMTP id mF3kH7zVXWe8TgAAqHmyYQ;
                \tThu, 13 Nov 2025 18:00:07 +0100
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 1B2C3D4E5F;
                \tThu, 13 Nov 2025 18:00:06 +0100 (CET)
                From: Fabrikam News <news@fabrikam.example>
                To: Dana <dana@wingtiptoys.com>
                Subject: Newsletter
                Date: Thu, 13 Nov 2025 17:59:00 +0100
                Message-ID: <newsletter-46@fabrikam.example>

                This week at Fabrikam.

                """),
            sender: "news@fabrikam.example",
            recipients: [trusted("everyone@wingtip-isp.example", "Delivered-To", 1)],
            arrival: "2025-11-13 17:00:07", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com", guessed: true)],
            notes: ["To/Cc used as a guess"]),

        EnvelopeCorpusCase(
            name: "postfix-nothing-recoverable",
            provider: .postfix,
            message: corpusMessage(
                """
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Dovecot) with LMTP id nG4lI8zVXWe8TgAAqHmyYQ;
                \tThu, 13 Nov 2025 19:00:07 +0100
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 2C3D4E5F6A;
                \tThu, 13 Nov 2025 19:00:06 +0100 (CET)
                From: Someone <someone@fabrikam.example>
                To: undisclosed-recipients:;
                Subject: Hello
                Date: Thu, 13 Nov 2025 18:59:00 +0100

                Who gets this?

                """),
            sender: nil,
            recipients: [],
            arrival: "2025-11-13 18:00:07", arrivalSource: .providerReceived,
            deliveries: [toFallback()],
            notes: ["no recipient recovered from the trace headers, and no To/Cc address"]),
    ]
}
