-- One-time setup codes: while no admin exists, each Flare instance prints a code to its log
-- at start and keeps its SHA-256 here (so any instance behind a load balancer accepts it).
-- Creating the first admin needs a valid code and deletes them all, in the same transaction.
CREATE TABLE setup_codes (
    code_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
