-- Schedules: a cron expression in an IANA time zone, the message each firing sends, and the
-- next firing. An instance fires a schedule by moving `next_fire_at` on with a conditional
-- UPDATE in the same transaction as the run, so each firing starts one run across instances.
ALTER TABLE triggers ADD COLUMN cron TEXT;
ALTER TABLE triggers ADD COLUMN time_zone TEXT;
ALTER TABLE triggers ADD COLUMN message TEXT;
ALTER TABLE triggers ADD COLUMN next_fire_at BIGINT;
CREATE INDEX triggers_due ON triggers (kind, enabled, next_fire_at);
