-- Retention deletes by age.
CREATE INDEX receipt_events_at ON receipt_events (at);
CREATE INDEX devices_expires ON devices (expires_at);
