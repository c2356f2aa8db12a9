-- Telling people about escalations: a team's notification channels, and the outbox of their
-- deliveries, each written in the same transaction as the escalation (or answer) it announces,
-- then sent by a worker with retries.
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'slack', 'discord')),
    name TEXT NOT NULL,
    -- Escalations below this severity rank (0 info, 1 warning, 2 critical) are not sent.
    min_severity_rank BIGINT NOT NULL,
    muted BIGINT NOT NULL,
    -- Where deliveries go: a webhook's URL.
    target TEXT NOT NULL,
    -- Sealed with FLARE_SECRET_KEY, bound to the row (a webhook's signing secret).
    secret TEXT,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX channels_team ON channels (team_id);

-- One delivery of one event to one channel. Its id is also the delivery's idempotency key
-- (X-Flare-Delivery), the same on every attempt. A worker claims a due row by moving `due_at`
-- past the attempt's deadline, so a row whose worker died is due again once that passes.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    escalation_id TEXT NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    event TEXT NOT NULL CHECK (event IN ('raised', 'answered', 'reminder')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (state, due_at);
CREATE INDEX outbox_escalation ON outbox (escalation_id);
