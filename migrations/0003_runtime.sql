-- Threads, their messages, agent runs and escalations.
-- A run is a persisted state machine (running -> waiting -> running -> completed | failed):
-- a waiting run is only these rows, so it survives restarts and any instance can resume it.

CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    trigger TEXT NOT NULL CHECK (trigger IN ('chat', 'cron', 'email', 'webhook', 'slack', 'discord', 'event')),
    title TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- The next message's position: taken with UPDATE ... RETURNING, so order is total.
    next_seq BIGINT NOT NULL DEFAULT 1,
    -- The run working on the thread now (running or waiting): one at a time, claimed with a
    -- conditional UPDATE so a double-clicked Send starts one run, not two.
    active_run TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX threads_team_updated ON threads (team_id, updated_at);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    team_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    -- The user message that started it.
    message_seq BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'failed')),
    -- The Description in force when the message was handled.
    description TEXT NOT NULL,
    -- JSON: the model-side steps of this run so far (tool calls and their results).
    steps TEXT NOT NULL,
    error TEXT,
    -- While running, the instance driving it renews this; an expired lease means the driver
    -- died and another instance (or the restarted one) takes the run over.
    lease_until BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX runs_status_lease ON runs (status, lease_until);
CREATE INDEX runs_thread ON runs (thread_id);

CREATE TABLE escalations (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trigger TEXT NOT NULL,
    reason TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    -- 0 info, 1 warning, 2 critical: what "sort by severity" orders (and pages) on.
    severity_rank BIGINT NOT NULL,
    -- 1: the run waits for the answer; 0: a direct tool-call escalation (a card only).
    blocking BIGINT NOT NULL,
    -- The tool call the answer is the result of (blocking escalations).
    tool_call_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'dismissed')),
    guidance TEXT,
    responder_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    responder TEXT,
    created_at BIGINT NOT NULL,
    answered_at BIGINT
);
-- The Escalations page's orders, each with the id as tie-breaker for keyset pagination.
CREATE INDEX escalations_team_status ON escalations (team_id, status, created_at, id);
CREATE INDEX escalations_team_severity ON escalations (team_id, status, severity_rank, created_at, id);
CREATE INDEX escalations_team_answered ON escalations (team_id, status, answered_at, id);
CREATE INDEX escalations_thread ON escalations (thread_id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    run_id TEXT,
    -- user | agent | escalation (an inline card) | notice (e.g. a failed run)
    kind TEXT NOT NULL CHECK (kind IN ('user', 'agent', 'escalation', 'notice')),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    escalation_id TEXT REFERENCES escalations (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (thread_id, seq)
);

-- Audit entries about one team's data carry the team, so the audit page shows them only to
-- that team's owners and admins; account-level entries (people, teams) have none.
ALTER TABLE audit_log ADD COLUMN team_id TEXT;
CREATE INDEX audit_log_at_id ON audit_log (at, id);
