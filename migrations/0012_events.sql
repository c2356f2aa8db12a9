-- Events: "when agent X's run completes (fails, escalates, is answered), start this agent".
-- A run started by an event is one link further down its chain; chains stop at depth 5 so two
-- agents cannot start each other forever.
ALTER TABLE triggers ADD COLUMN source_agent_id TEXT;
ALTER TABLE triggers ADD COLUMN on_event TEXT;
CREATE INDEX triggers_source ON triggers (source_agent_id, on_event);
ALTER TABLE runs ADD COLUMN chain_depth BIGINT NOT NULL DEFAULT 0;
