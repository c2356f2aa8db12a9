-- The Admin Agent's conversation with each owner or admin (it is one per person, not a team's
-- thread: it reads across the person's teams). Drafts are the rule wordings it offered, with
-- the agent each is for, as JSON.
CREATE TABLE admin_messages (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    from_agent BIGINT NOT NULL,
    body TEXT NOT NULL,
    drafts TEXT NOT NULL,
    offline BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX admin_messages_user ON admin_messages (user_id, created_at);
