-- Agents at work without a chat window: runs started through the API, inbound webhooks (and,
-- later, schedules and events), API tokens that may write, and idempotency keys.

-- A thread (and its escalations) may now be started through the API. Neither SQLite nor a
-- portable ALTER can change a CHECK, so the column is replaced by one with the new list (a
-- column's own CHECK goes with it when it is dropped, on both databases).
ALTER TABLE threads ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT 'chat'
    CHECK (trigger_kind IN ('chat', 'cron', 'email', 'webhook', 'slack', 'discord', 'event', 'api'));
UPDATE threads SET trigger_kind = trigger;
ALTER TABLE threads DROP COLUMN trigger;
ALTER TABLE threads RENAME COLUMN trigger_kind TO trigger;

-- A third kind of token: the API, reading and writing (start runs, answer escalations).
ALTER TABLE tokens ADD COLUMN token_kind TEXT NOT NULL DEFAULT 'api'
    CHECK (token_kind IN ('embed', 'api', 'api_write'));
UPDATE tokens SET token_kind = kind;
ALTER TABLE tokens DROP COLUMN kind;
ALTER TABLE tokens RENAME COLUMN token_kind TO kind;

-- What starts an agent without a person in a chat: an inbound webhook (its signing secret
-- sealed with FLARE_SECRET_KEY, bound to the row), later a schedule or an event.
CREATE TABLE triggers (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'schedule', 'event')),
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    secret TEXT,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX triggers_agent ON triggers (agent_id);

-- A request that must start at most one run: an API Idempotency-Key (scope "api:<team>") or a
-- webhook's delivery id or signature (scope "hook:<trigger>"). Kept 24 hours.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    -- What the key was used for (a hash of the agent and message): the same key for another
    -- request is refused instead of answered with the wrong run.
    fingerprint TEXT NOT NULL,
    run_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
