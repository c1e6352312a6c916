#!/usr/bin/env python3
# scripts/state-rows.py SCHEMA_SWIFT FILE N: a state database of N message rows (100 mailboxes) with the real
# schema (the migrations in Sources/MailFerry/Store/Schema.swift), rows shaped as `mailferry-bench --state-rows`
# shapes them. For measuring quick_check, integrity_check and backup (docs/operations.md); never commit its output.
import re, sqlite3, sys, textwrap, os
schema_swift, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(schema_swift).read()
migrations = [textwrap.dedent(m) for m in re.findall(r'"""\n(.*?)"""', text, re.S)]
if os.path.exists(path): os.remove(path)
db = sqlite3.connect(path, isolation_level=None)
for i, sql in enumerate(migrations):
    db.executescript("BEGIN;" + sql + f";PRAGMA user_version = {i + 1};COMMIT;")
db.execute("PRAGMA journal_mode = WAL")
mailboxes = 100
db.execute("BEGIN")
for m in range(mailboxes):
    db.execute("INSERT INTO mailboxes (key, source, user, target, address, created_at) VALUES (?, 'isp', ?, 'archive', ?, 1793491200)",
               (f"isp/u{m:03d}", f"u{m:03d}", f"u{m:03d}@contoso.example"))
db.execute(f"""
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < {n})
INSERT INTO messages (mailbox_id, uidl, listed_size, state, first_seen_at, updated_at)
SELECT 1 + i % {mailboxes}, printf('%08X%08X', i % {mailboxes}, i / {mailboxes}), 8000, 'listed',
       1793491200 + i, 1793491200 + i FROM c
""")
db.execute("""
UPDATE messages SET
  state = CASE id % 100 WHEN 95 THEN 'listed' WHEN 96 THEN 'deferred' WHEN 97 THEN 'failed'
                        WHEN 98 THEN 'duplicate' WHEN 99 THEN 'delivering' ELSE 'delivered' END,
  error_kind = CASE id % 100 WHEN 96 THEN 'transient' WHEN 97 THEN 'permanent' END,
  size = 8000, sha256 = printf('%064x', id), target = 'archive', token = 'tok-' || id,
  target_ref = 'new/tok-' || id || ',S=8000', message_id = '<' || id || '@wingtip.example>',
  date_header = 'Mon, 7 Dec 2026 10:00:00 +0000', delivered_at = first_seen_at,
  envelope = json_object('envelope', json_object(
    'arrival', strftime('%Y-%m-%dT%H:%M:%SZ', 1793491200 + (id * 7919) % 7776000, 'unixepoch'),
    'arrivalSource', 'provider-received', 'sender', 'someone@fabrikam.example',
    'senderProvenance', json_object('header', 'Return-Path', 'index', 0, 'trusted', json('true')),
    'recipients', json_array(json_object('address', 'person@wingtip.example', 'provenance',
      json_object('header', 'X-Original-To', 'index', 0, 'trusted', json('true')))),
    'boundary', 'mx1.wingtip-isp.example'),
    'routing', json_array(json_object('address', 'person@contoso.example', 'rule', 'mailbox')))
""")
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
