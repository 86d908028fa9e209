-- The delivery trace (issue 17, GET /messages/{id}/trace) tells a sender
-- where a message stands on each recipient device, without a write per
-- message per device on the delivery path:
--
-- acked_at is when the device's cursor of the conversation last moved,
-- written by the statement that moves it (one per device and conversation
-- per commit cycle, as before). It dates the last acknowledgement, so for
-- an earlier message it is the time "at the latest". NULL: not moved by an
-- acknowledgement since this migration (a cursor made at login).
ALTER TABLE device_cursors ADD COLUMN acked_at BIGINT;
-- The device's last connection: when it opened and when it closed, batched
-- by the node that held it (gateway/stamps.go). A message committed while a
-- connection was open was written to it live; one committed before was
-- written at that connect's sync. NULL: not connected since this migration.
ALTER TABLE devices ADD COLUMN connected_at BIGINT;
ALTER TABLE devices ADD COLUMN disconnected_at BIGINT;
