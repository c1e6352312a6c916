@testable import MailCore

// The same Postfix provider, with the damage legacy stores show: 8-bit headers, folding everywhere, broken lines,
// bare LF and bare CR line ends, no header/body separator, unreadable or impossible time stamps.
extension EnvelopeCorpus {
    static let postfixOdd: [EnvelopeCorpusCase] = [
        EnvelopeCorpusCase(
            name: "odd-8bit-latin1-headers",
            provider: .postfix,
            message: latin1Message(
                """
                Return-Path: <juergen@fabrikam.example>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 0B1C2D3E4F
                \tfor <bob@wingtiptoys.com>; Mon, 10 Nov 2025 08:08:08 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 1C2D3E4F5A
                \tfor <bob@wingtiptoys.com>; Mon, 10 Nov 2025 08:08:07 +0100 (CET)
                From: Jürgen Weiß <juergen@fabrikam.example>
                To: Bob <bob@wingtiptoys.com>
                Subject: Grüße aus München
                Date: Mon, 10 Nov 2025 08:08:00 +0100
                Content-Type: text/plain; charset=iso-8859-1
                Content-Transfer-Encoding: 8bit

                Schöne Grüße, Jürgen

                """),
            sender: "juergen@fabrikam.example",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-10 07:08:08", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "odd-8bit-utf8-headers",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <søren@fabrikam.example>
                X-Original-To: alice@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx2.wingtip-isp.example (mx2.wingtip-isp.example [10.1.0.12])
                \tby store.wingtip-isp.example (Postfix) with SMTPUTF8 id 2D3E4F5A6B
                \tfor <alice@wingtiptoys.com>; Mon, 10 Nov 2025 09:09:09 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx2.wingtip-isp.example (Postfix) with UTF8SMTPS id 3E4F5A6B7C
                \tfor <alice@wingtiptoys.com>; Mon, 10 Nov 2025 09:09:08 +0100 (CET)
                From: Søren Ødegård <søren@fabrikam.example>
                To: alice@wingtiptoys.com
                Subject: Blåbærsyltetøy
                Date: Mon, 10 Nov 2025 09:09:00 +0100
                Content-Type: text/plain; charset=utf-8

                Hej!

                """),
            sender: "søren@fabrikam.example",
            recipients: [trusted("alice@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-10 08:09:09", arrivalSource: .providerReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "odd-folded-and-malformed-header",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path:
                 <alice@fabrikam.example>
                X-Original-To:
                \talice@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example
                \t(mx1.wingtip-isp.example
                \t [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix)
                \twith ESMTP id 3F2A1C0099
                \tfor <alice@wingtiptoys.com>;
                \tSun, 16 Nov 2025 07:07:07 +0100
                this line is broken and has no colon
                Received: from smtp.fabrikam.example (smtp.fabrikam.example [192.0.2.26]) by
                  mx1.wingtip-isp.example (Postfix) with ESMTPS id 4B5C6D7E8F for
                  <alice@wingtiptoys.com>; Sun, 16 Nov 2025 07:07:06 +0100
                X-Mailer : Outlook Express 6.00.2900.5512
                Subject: =?iso-8859-1?Q?R=E9union?= =?iso-8859-1?Q?_demain?=
                From: =?utf-8?B?QWxpY2UgUnXDrXo=?= <alice@fabrikam.example>
                To: alice@wingtiptoys.com
                Date: Sun, 16 Nov 2025 07:07:00 +0100

                See you tomorrow.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("alice@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-16 06:07:07", arrivalSource: .providerReceived,
            deliveries: [deliver("alice@contoso.example", "alice@wingtiptoys.com")],
            notes: ["header: line 13 (byte 341): no colon; skipped: this line is broken and has no colon"]),

        EnvelopeCorpusCase(
            name: "odd-bare-lf",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: bob@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 5C6D7E8F90
                \tfor <bob@wingtiptoys.com>; Fri, 07 Nov 2025 12:00:01 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 6D7E8F90A1
                \tfor <bob@wingtiptoys.com>; Fri, 07 Nov 2025 12:00:00 +0100 (CET)
                From: alice@fabrikam.example
                To: bob@wingtiptoys.com
                Subject: Unix line ends
                Date: Fri, 07 Nov 2025 11:59:00 +0100

                Stored by a tool that wrote LF only.

                """, .lf),
            sender: "alice@fabrikam.example",
            recipients: [trusted("bob@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-07 11:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("bob@contoso.example", "bob@wingtiptoys.com")]),

        EnvelopeCorpusCase(
            name: "odd-bare-cr",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: kelly@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 7E8F90A1B2
                \tfor <kelly@wingtiptoys.com>; Fri, 07 Nov 2025 13:00:01 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id 8F90A1B2C3
                \tfor <kelly@wingtiptoys.com>; Fri, 07 Nov 2025 13:00:00 +0100 (CET)
                From: alice@fabrikam.example
                To: kelly@wingtiptoys.com
                Subject: Classic Mac line ends
                Date: Fri, 07 Nov 2025 12:59:00 +0100

                Stored by a tool that wrote CR only.

                """, .cr),
            sender: "alice@fabrikam.example",
            recipients: [trusted("kelly@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-07 12:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("kelly@contoso.example", "kelly@wingtiptoys.com")],
            notes: ["header: lines end with a bare CR, not CRLF"]),

        EnvelopeCorpusCase(
            name: "odd-no-header-body-separator",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: dana@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id 90A1B2C3D4
                \tfor <dana@wingtiptoys.com>; Sat, 08 Nov 2025 10:00:01 +0100 (CET)
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id A1B2C3D4E5
                \tfor <dana@wingtiptoys.com>; Sat, 08 Nov 2025 10:00:00 +0100 (CET)
                From: alice@fabrikam.example
                To: dana@wingtiptoys.com
                Subject: (no body at all)
                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("dana@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-08 09:00:01", arrivalSource: .providerReceived,
            deliveries: [deliver("dana@contoso.example", "dana@wingtiptoys.com")],
            notes: ["header: no empty line ends the header"]),

        EnvelopeCorpusCase(
            name: "odd-unreadable-final-timestamp",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: chris@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id B2C3D4E5F6
                \tfor <chris@wingtiptoys.com>; Sun, 16 Nov 2025 25:61:00 +0100
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id C3D4E5F6A7
                \tfor <chris@wingtiptoys.com>; Sun, 16 Nov 2025 09:30:00 +0100 (CET)
                From: alice@fabrikam.example
                To: chris@wingtiptoys.com
                Subject: Broken clock on the store
                Date: Sun, 16 Nov 2025 09:29:00 +0100

                Text.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("chris@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-16 08:30:00", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com")],
            notes: ["Received (field 3) has no readable date"]),

        EnvelopeCorpusCase(
            name: "odd-final-timestamp-in-the-future",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: chris@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id D4E5F6A7B8
                \tfor <chris@wingtiptoys.com>; Tue, 16 Nov 2032 10:00:00 +0100
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id E5F6A7B8C9
                \tfor <chris@wingtiptoys.com>; Sun, 16 Nov 2025 10:30:00 +0100 (CET)
                From: alice@fabrikam.example
                To: chris@wingtiptoys.com
                Subject: Store clock set to 2032
                Date: Sun, 16 Nov 2025 10:29:00 +0100

                Text.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("chris@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-16 09:30:00", arrivalSource: .providerReceived,
            deliveries: [deliver("chris@contoso.example", "chris@wingtiptoys.com")],
            notes: ["Received (field 3) is dated after it was first seen; skipped"]),

        EnvelopeCorpusCase(
            name: "odd-provider-received-without-dates",
            provider: .postfix,
            message: corpusMessage(
                """
                Return-Path: <alice@fabrikam.example>
                X-Original-To: kelly@wingtiptoys.com
                Delivered-To: everyone@wingtip-isp.example
                Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])
                \tby store.wingtip-isp.example (Postfix) with ESMTP id F6A7B8C9D0
                Received: from mail.fabrikam.example (mail.fabrikam.example [192.0.2.25])
                \tby mx1.wingtip-isp.example (Postfix) with ESMTPS id A7B8C9D0E1
                From: alice@fabrikam.example
                To: kelly@wingtiptoys.com
                Subject: No time stamps
                Date: Wed, 5 Nov 2025 14:15:16 +0100

                Text.

                """),
            sender: "alice@fabrikam.example",
            recipients: [trusted("kelly@wingtiptoys.com", "X-Original-To", 1)],
            arrival: "2025-11-05 13:15:16", arrivalSource: .dateHeader,
            deliveries: [deliver("kelly@contoso.example", "kelly@wingtiptoys.com")]),
    ]
}
