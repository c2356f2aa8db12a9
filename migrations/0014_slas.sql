-- SLAs: how long each team's escalations may stay open, by severity, and where a second
-- reminder goes when nobody answered in twice that time.
CREATE TABLE team_slas (
    team_id TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    -- Minutes; NULL: no SLA for that severity.
    info_minutes BIGINT,
    warning_minutes BIGINT,
    critical_minutes BIGINT,
    fallback_channel_id TEXT REFERENCES channels (id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);

-- An open escalation's SLA: when it is due (overdue after), when its next reminder is due
-- (claimed by moving it on in the reminder's own transaction, so each fires once across
-- instances), how many reminders went out, and until when a person snoozed it.
ALTER TABLE escalations ADD COLUMN due_at BIGINT;
ALTER TABLE escalations ADD COLUMN remind_at BIGINT;
ALTER TABLE escalations ADD COLUMN reminders BIGINT NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN snoozed_until BIGINT;
CREATE INDEX escalations_remind ON escalations (status, remind_at);
