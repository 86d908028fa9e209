-- Bots' outgoing webhooks (issue 18, docs/PROTOCOL.md "Webhooks"). A
-- webhook is delivered like a device: it has its own cursors per
-- conversation (messages and update events), moved when the endpoint
-- answered 2xx, so what it has not accepted stays in the conversation
-- logs and is delivered after a restart, in order. The secret signs each
-- request and so is kept as it was shown (HMAC needs it). The lease says
-- which node delivers the bot's events now: one at a time, for order.
CREATE TABLE webhooks (
    bot_id      TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    lease_node  TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0
);
-- seq / update_seq: the last message / update event of the conversation
-- the endpoint accepted or that was passed (not for the bot, or parked).
CREATE TABLE webhook_cursors (
    bot_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    update_seq      BIGINT NOT NULL,
    PRIMARY KEY (bot_id, conversation_id)
);
-- Events that failed at least once: retrying, then delivered or (after
-- --webhook-retry-for) failed, parked for the owner to see. An event
-- accepted at its first try leaves no row.
CREATE TABLE webhook_deliveries (
    bot_id           TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    first_attempt_at BIGINT NOT NULL,
    last_attempt_at  BIGINT NOT NULL,
    last_status      BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (bot_id, event_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (bot_id, last_attempt_at);
