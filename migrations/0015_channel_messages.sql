-- What a channel gave back for a delivery it accepted: a Slack message's `ts`, so the message
-- can be updated with the outcome once the escalation is answered, and never posted twice.
ALTER TABLE outbox ADD COLUMN external_ref TEXT;
