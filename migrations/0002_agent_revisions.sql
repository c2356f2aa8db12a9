-- Every saved Description is a revision; saves carry the revision they were based on, so a
-- save from a stale editor never overwrites a newer one. Deleted agents are kept (soft delete)
-- so their threads and escalations keep their history.
ALTER TABLE agents ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE agents ADD COLUMN deleted_at BIGINT;

CREATE TABLE agent_revisions (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    description TEXT NOT NULL,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, revision)
);

INSERT INTO agent_revisions (agent_id, revision, description, author_id, author, created_at)
SELECT id, 1, description, NULL, 'system', created_at FROM agents;
