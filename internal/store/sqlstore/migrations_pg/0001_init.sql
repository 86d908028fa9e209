-- Parley's schema on PostgreSQL: the same tables as the SQLite schema
-- (migrations/, where each column is explained), in PostgreSQL's types.
-- Times are integer milliseconds since the Unix epoch.

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL,
    username_key         TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    last_seen            BIGINT,
    receipt_seq          BIGINT NOT NULL DEFAULT 0,
    last_seen_visibility TEXT NOT NULL DEFAULT 'everyone',
    online_visibility    TEXT NOT NULL DEFAULT 'everyone'
);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    token_hash     BYTEA NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    last_used_at   BIGINT NOT NULL,
    receipt_cursor BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices (user_id, last_used_at);
CREATE INDEX devices_expires ON devices (expires_at);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    pair_key         TEXT UNIQUE,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    last_activity_at BIGINT NOT NULL,
    member_count     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL,
    joined_at       BIGINT NOT NULL,
    joined_seq      BIGINT NOT NULL,
    delivered_seq   BIGINT NOT NULL,
    read_seq        BIGINT NOT NULL,
    left_seq        BIGINT,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user ON members (user_id, conversation_id);

CREATE TABLE device_cursors (
    device_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    delivered_seq   BIGINT NOT NULL,
    PRIMARY KEY (device_id, conversation_id)
);
CREATE INDEX device_cursors_conversation ON device_cursors (conversation_id);

CREATE TABLE messages (
    id                TEXT NOT NULL UNIQUE,
    conversation_id   TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    sender_id         TEXT NOT NULL,
    sender_device_id  TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    message_type      TEXT NOT NULL,
    content           TEXT NOT NULL,
    media_id          TEXT,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, client_message_id);
CREATE INDEX messages_created ON messages (created_at);

CREATE TABLE receipt_events (
    sender_id       TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    conversation_id TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    status          TEXT NOT NULL,
    from_seq        BIGINT NOT NULL,
    to_seq          BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    message_id      TEXT,
    PRIMARY KEY (sender_id, seq)
);
CREATE INDEX receipt_events_recipient ON receipt_events (conversation_id, recipient_id, status, to_seq);
CREATE INDEX receipt_events_at ON receipt_events (at);
