-- Slack as a trigger: a Slack channel may name the agent that answers what people write to its
-- bot there (a mention, a direct message, or any message in the connected channel).
ALTER TABLE channels ADD COLUMN agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL;

-- A run started from Slack, and the delivery of its reply into the Slack thread it came from
-- once the run has ended. A worker claims a due row by moving `due_at` past the attempt's
-- deadline, as the outbox does.
CREATE TABLE chat_replies (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    -- Slack's channel (or DM) id and the thread's ts to reply under.
    conversation TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX chat_replies_due ON chat_replies (state, due_at);
