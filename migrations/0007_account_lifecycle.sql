-- Sessions are stored under the SHA-256 of their id, so a copy of this table holds no usable
-- cookie; with the user they belong to, so all of a user's sessions can be ended at once
-- (deactivation, a password change). Sessions stored the old way are dropped: everyone signs
-- in again once.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN user_id TEXT;
CREATE INDEX sessions_user ON sessions (user_id);

-- A deactivated user cannot sign in, and their sessions and live streams end.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
