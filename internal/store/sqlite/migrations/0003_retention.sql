-- A receipt event about one message that no longer exists (status
-- "expired": the message passed the retention period before this
-- recipient received it) names the message itself; range events leave it
-- NULL and are resolved against the messages table.
ALTER TABLE receipt_events ADD COLUMN message_id TEXT;
CREATE INDEX receipt_events_at ON receipt_events (at);
CREATE INDEX devices_expires ON devices (expires_at);
