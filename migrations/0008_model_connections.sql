-- Model connections made in the app (Settings → Models), for the whole deployment. The key is
-- sealed with the deployment's secret key and bound to the row (see server::secret_box); the
-- browser only ever gets key_hint. A deleted connection keeps its row (agents that used it name
-- it when they fall back) but loses its key.
CREATE TABLE model_connections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    base_url TEXT NOT NULL,
    api_key TEXT NOT NULL,
    key_hint TEXT NOT NULL,
    models TEXT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

-- An agent's model: NULL for the deployment's default; 'environment' for the connection the
-- environment variables make; 'rules' for the offline rules provider; else a connection's id.
-- model NULL means the connection's first model.
ALTER TABLE agents ADD COLUMN connection_id TEXT;
ALTER TABLE agents ADD COLUMN model TEXT;

-- What the agent used when the run started, so a change applies from the next message on.
ALTER TABLE runs ADD COLUMN connection_id TEXT;
ALTER TABLE runs ADD COLUMN model TEXT;
