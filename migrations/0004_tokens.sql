-- Tokens for the embeddable widget ('embed') and the JSON API ('api'): scoped to one team,
-- read-only, stored as SHA-256 hashes (the value is shown once, at creation).
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('embed', 'api')),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX tokens_team ON tokens (team_id);
