-- Push relays (issue 18, docs/PROTOCOL.md "Push"): the gateway of a
-- native app's vendor (in front of FCM or APNs) that the server POSTs a
-- signed notice to while the device has no connection. At most one per
-- device (session), beside its Web Push subscription if it has one;
-- replaced when the device registers again and deleted with it, on
-- DELETE /api/v1/push/relays, and when the relay answers 404 or 410.
-- pushkey is the device's token at the vendor, opaque, at most 4096 bytes.
CREATE TABLE push_relays (
    device_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    url        TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    pushkey    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- The recipients' relays, joined from members after each commit.
CREATE INDEX push_relays_user ON push_relays (user_id);
