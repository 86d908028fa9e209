-- Pinned messages (issue 17): at most 3 per conversation, in the order
-- they were pinned. A pin goes with its message when the message expires.
CREATE TABLE pins (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    message_id      TEXT NOT NULL,
    pinned_by       TEXT NOT NULL,
    pinned_at       BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, message_id)
);
CREATE INDEX pins_by_message ON pins (message_id);
