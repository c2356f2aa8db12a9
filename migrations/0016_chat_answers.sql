-- Answering from Slack: a channel's signing secret (sealed like its bot token) verifies the
-- clicks Slack sends; people link their Slack account to their Flare account once; and each
-- signed request is accepted once, so a captured one cannot be replayed.
ALTER TABLE channels ADD COLUMN signing_secret TEXT;

-- Who a chat account is in Flare: (kind, workspace, external user) -> user.
CREATE TABLE chat_links (
    kind TEXT NOT NULL,
    workspace TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, workspace, external_id)
);
CREATE INDEX chat_links_user ON chat_links (user_id);

-- A link offered to an unlinked chat account: its token's hash, used once, within 15 minutes,
-- by a person signed in to Flare.
CREATE TABLE chat_link_offers (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    workspace TEXT NOT NULL,
    external_id TEXT NOT NULL,
    external_name TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Signed chat requests already accepted (the signature), kept past the 5 minutes in which a
-- copy could still pass the timestamp check.
CREATE TABLE chat_requests_seen (
    signature TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
CREATE INDEX chat_requests_seen_at ON chat_requests_seen (seen_at);
