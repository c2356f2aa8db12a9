-- Email as a trigger: an agent's mailbox, read over IMAP. The trigger row (kind 'email') holds
-- its name, whether it is on, and the IMAP password sealed with FLARE_SECRET_KEY; the mailbox
-- row holds where it is and how far it has been read.

-- A trigger may now be a mailbox. A column's CHECK cannot be changed in place on SQLite, so the
-- column is replaced (its index goes first: SQLite does not drop an indexed column).
DROP INDEX triggers_due;
ALTER TABLE triggers ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT 'webhook'
    CHECK (trigger_kind IN ('webhook', 'schedule', 'event', 'email'));
UPDATE triggers SET trigger_kind = kind;
ALTER TABLE triggers DROP COLUMN kind;
ALTER TABLE triggers RENAME COLUMN trigger_kind TO kind;
CREATE INDEX triggers_due ON triggers (kind, enabled, next_fire_at);

CREATE TABLE mailboxes (
    trigger_id TEXT PRIMARY KEY REFERENCES triggers (id) ON DELETE CASCADE,
    -- The agent's address: replies go out from it, so people's answers come back to it.
    address TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    security TEXT NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
    username TEXT NOT NULL,
    folder TEXT NOT NULL,
    -- How far it has been read: mail with a UID up to `last_uid` (under this UIDVALIDITY) has
    -- been taken. A new UIDVALIDITY means the server renumbered the folder: reading starts
    -- again from what arrives next.
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    -- The next check; an instance claims a check by moving it past the check's deadline.
    due_at BIGINT NOT NULL,
    checked_at BIGINT,
    last_error TEXT
);
CREATE INDEX mailboxes_due ON mailboxes (due_at);

-- A run started by a mail, and the delivery of its reply into that mail's thread once the run
-- has ended; claimed like the chat replies.
CREATE TABLE mail_replies (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The mail answered (its Message-ID) and the thread's earlier ids, for In-Reply-To and
    -- References.
    in_reply_to TEXT NOT NULL,
    refs TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_replies_due ON mail_replies (state, due_at);
