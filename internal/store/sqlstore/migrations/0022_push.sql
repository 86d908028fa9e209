-- Web Push (issue 18, docs/PROTOCOL.md "Push"): at most one subscription
-- per device (session), replaced when the device subscribes again and
-- deleted with it, on DELETE /api/v1/push/subscriptions, and when the push
-- service answers 404 or 410. p256dh and auth are kept as the browser sent
-- them, base64url, so both engines store the same text.
CREATE TABLE push_subscriptions (
    device_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- The recipients' subscriptions, joined from members after each commit.
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
