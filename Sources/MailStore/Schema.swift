import MailCore
import MailSystem

/// The state database schema as forward migrations. Entry N brings a database from version N to N+1
/// (`PRAGMA user_version`). Released entries are never edited: add a new one.
enum Schema {
    static let migrations: [String] = [
        // 1: mailboxes, messages with their checkpoint state, runs.
        """
        CREATE TABLE mailboxes (
            id              INTEGER PRIMARY KEY,
            key             TEXT NOT NULL UNIQUE,   -- "<source>/<user>": a mailbox's identity across runs
            source          TEXT NOT NULL,
            user            TEXT NOT NULL,
            target          TEXT NOT NULL,
            address         TEXT,
            created_at      REAL NOT NULL,
            last_poll_at    REAL,                   -- last attempt to list the maildrop
            last_ok_at      REAL,                   -- last poll that listed and finished without error
            server_count    INTEGER,                -- messages on the server at the last listing
            server_bytes    INTEGER,
            last_error      TEXT
        );
        CREATE TABLE messages (
            id              INTEGER PRIMARY KEY,
            mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id),
            uidl            TEXT NOT NULL,
            listed_size     INTEGER,                -- size from LIST (virtual, CRLF)
            size            INTEGER,                -- bytes retrieved
            sha256          TEXT,                   -- of the bytes retrieved
            state           TEXT NOT NULL CHECK (state IN
                              ('listed','delivering','delivered','deferred','failed','duplicate','removed')),
            target          TEXT,
            token           TEXT,                   -- delivery token: names the attempt at the target
            target_ref      TEXT,                   -- where the target put it (Maildir file, IMAP UID)
            first_seen_at   REAL NOT NULL,
            updated_at      REAL NOT NULL,
            delivered_at    REAL,
            next_try_at     REAL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            error_kind      TEXT,
            last_error      TEXT,
            duplicate_of    INTEGER REFERENCES messages(id),
            UNIQUE (mailbox_id, uidl)
        );
        CREATE INDEX messages_by_state ON messages (mailbox_id, state);
        CREATE INDEX messages_by_hash ON messages (mailbox_id, sha256);
        CREATE TABLE runs (
            id              INTEGER PRIMARY KEY,
            run_id          TEXT NOT NULL UNIQUE,
            started_at      REAL NOT NULL,
            finished_at     REAL,
            exit_code       INTEGER,
            summary         TEXT                    -- the run report's totals as JSON
        );
        """,
        // 2: LOGIN-DELAY remembered across runs (RFC 2449 §6.5).
        """
        ALTER TABLE mailboxes ADD COLUMN last_login_at REAL;
        ALTER TABLE mailboxes ADD COLUMN login_delay INTEGER;     -- seconds, as the server announced
        ALTER TABLE mailboxes ADD COLUMN next_login_at REAL;      -- no login before this time
        """,
        // 3: quarantine (a message that kept failing is set aside with its reason) and retention.
        """
        ALTER TABLE messages ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN removed_at REAL;          -- deleted at the source under a retention policy
        """,
        // 4: the recovered envelope, and routed deliveries of catch-all mailboxes (one child row per target mailbox).
        """
        ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id);  -- set on routed deliveries
        ALTER TABLE messages ADD COLUMN address TEXT;             -- the target mailbox of a routed delivery
        ALTER TABLE messages ADD COLUMN message_id TEXT;          -- Message-ID header, to find in-doubt IMAP appends
        ALTER TABLE messages ADD COLUMN date_header TEXT;         -- Date header: the same when there is no Message-ID
        ALTER TABLE messages ADD COLUMN envelope TEXT;            -- recovered envelope and routing, JSON, with provenance
        CREATE INDEX messages_by_parent ON messages (parent_id);
        """,
        // 5: the recovered arrival as a column (seconds, kept by triggers from the envelope's JSON) and an index
        // that covers what `status` and the dashboard count, so they aggregate in SQL without reading message rows.
        """
        ALTER TABLE messages ADD COLUMN arrival_at REAL;            -- envelope.arrival as unix time; NULL: unknown
        UPDATE messages SET arrival_at = CASE WHEN json_valid(envelope)
            THEN CAST(strftime('%s', json_extract(envelope, '$.envelope.arrival')) AS INTEGER) END
            WHERE envelope IS NOT NULL;
        CREATE TRIGGER messages_arrival_on_update AFTER UPDATE OF envelope ON messages BEGIN
            UPDATE messages SET arrival_at = CASE WHEN json_valid(NEW.envelope)
                THEN CAST(strftime('%s', json_extract(NEW.envelope, '$.envelope.arrival')) AS INTEGER) END
                WHERE id = NEW.id;
        END;
        CREATE TRIGGER messages_arrival_on_insert AFTER INSERT ON messages WHEN NEW.envelope IS NOT NULL BEGIN
            UPDATE messages SET arrival_at = CASE WHEN json_valid(NEW.envelope)
                THEN CAST(strftime('%s', json_extract(NEW.envelope, '$.envelope.arrival')) AS INTEGER) END
                WHERE id = NEW.id;
        END;
        CREATE INDEX messages_summary ON messages
            (parent_id, mailbox_id, state, quarantined, error_kind, arrival_at, first_seen_at);
        DROP INDEX messages_by_parent;                              -- messages_summary starts with parent_id
        """,
        // 6: each poll reads every UIDL of the mailbox with its listed size (UIDL-reset check, listing sync); this
        // covering index answers that without reading the table's rows (which carry the envelope JSON): a poll
        // with nothing new reads ~1/20 of the pages.
        """
        CREATE INDEX messages_listing ON messages (mailbox_id, parent_id, uidl, listed_size);
        """,
        // 7: a writer that sets arrival_at together with the envelope (the run, once per message) is taken at its
        // word; the trigger derives it only when the update left it unchanged, sparing two JSON parses and a second
        // row update per message.
        """
        DROP TRIGGER messages_arrival_on_update;
        CREATE TRIGGER messages_arrival_on_update AFTER UPDATE OF envelope ON messages
            WHEN NEW.arrival_at IS OLD.arrival_at BEGIN
            UPDATE messages SET arrival_at = CASE WHEN json_valid(NEW.envelope)
                THEN CAST(strftime('%s', json_extract(NEW.envelope, '$.envelope.arrival')) AS INTEGER) END
                WHERE id = NEW.id;
        END;
        """,
        // 8: the state's own identity (a random id made on its first run, also written into each Maildir target's
        // root), so a lost or swapped state is recognised instead of silently re-delivering everything; the target
        // mailbox of each attempt (messages.target keeps the target's name), so a row in doubt is settled where it
        // was attempted even after the plan moved the mailbox (run --rebind).
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        ALTER TABLE messages ADD COLUMN attempt_address TEXT;   -- the target mailbox an attempt went to
        ALTER TABLE mailboxes ADD COLUMN rebound TEXT;          -- run --rebind: where it was bound before, and when
        """,
        // 9: what `run --quiet` last said about a mailbox's trouble (so cron mails a change, a recovery and a
        // reminder, not every run), and the time of the mailbox's first listing (status: a message first seen then
        // was already on the server, so its first sight says nothing about when it arrived). Mailboxes polled before
        // get the earliest first sight of their messages.
        """
        ALTER TABLE mailboxes ADD COLUMN said_kind TEXT;        -- the trouble last printed: a FailureKind or "waiting"
        ALTER TABLE mailboxes ADD COLUMN said_error TEXT;       -- its text, exactly as printed
        ALTER TABLE mailboxes ADD COLUMN said_since REAL;       -- when it was first printed
        ALTER TABLE mailboxes ADD COLUMN said_at REAL;          -- when it was last printed (a reminder counts)
        ALTER TABLE mailboxes ADD COLUMN first_listed_at REAL;  -- the first poll that listed the maildrop
        UPDATE mailboxes SET first_listed_at = (SELECT min(first_seen_at) FROM messages
            WHERE messages.mailbox_id = mailboxes.id AND messages.parent_id IS NULL);
        """,
        // 10: mail that vanished from the server (design.md, "Mail that vanished"): the first complete UIDL
        // listing that no longer shows a known message marks its row (its checkpoint state stays as it was), with the
        // last listing that showed it; a listing that shows it again clears both. What a partial retrieval saw of its
        // header is kept for the report. A partial index covers what a poll and `status` read of the marked rows.
        """
        ALTER TABLE messages ADD COLUMN vanished_at REAL;       -- first complete listing without it; NULL: listed
        ALTER TABLE messages ADD COLUMN last_listed_at REAL;    -- the last complete listing that showed it
        ALTER TABLE messages ADD COLUMN seen_from TEXT;         -- From and Subject, decoded, as a retrieval that broke
        ALTER TABLE messages ADD COLUMN seen_subject TEXT;      -- or a refused delivery saw them
        CREATE INDEX messages_vanished ON messages
            (mailbox_id, parent_id, state, quarantined, error_kind, uidl, vanished_at) WHERE vanished_at IS NOT NULL;
        """,
    ]

    static var currentVersion: Int { migrations.count }
}
