-- Parley's schema. Times are integer milliseconds since the Unix epoch.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    -- the username in lower case: names are unique whatever their case
    username_key  TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- when the user last went offline; NULL until it first has
    last_seen     INTEGER,
    -- the last receipt event number of this user's messages (see below)
    receipt_seq   INTEGER NOT NULL DEFAULT 0
);

-- A session is a device: its own token, its own delivery cursors.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    token_hash     BLOB NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    -- the last receipt event this device was told about
    receipt_cursor INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices (user_id, last_used_at);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    -- "a:b" with a < b for 1:1 conversations: one per pair
    pair_key         TEXT UNIQUE,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL,
    member_count     INTEGER NOT NULL DEFAULT 0
);

-- delivered_seq / read_seq: the member (any of its devices) has received /
-- read every message up to that sequence number. Receipt state of message
-- s for a member is derived from them: one write per ack, not per message.
CREATE TABLE members (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL,
    joined_at       INTEGER NOT NULL,
    joined_seq      INTEGER NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id);

-- A device's offline queue is the conversation log after its cursor.
CREATE TABLE device_cursors (
    device_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    PRIMARY KEY (device_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX device_cursors_conversation ON device_cursors (conversation_id);

-- Each message is written once, whatever the number of recipients.
CREATE TABLE messages (
    id                TEXT NOT NULL UNIQUE,
    conversation_id   TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    sender_id         TEXT NOT NULL,
    sender_device_id  TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    message_type      TEXT NOT NULL,
    content           TEXT NOT NULL,
    media_id          TEXT,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, client_message_id);
CREATE INDEX messages_created ON messages (created_at);

-- Receipt changes, kept so a sender that was offline is told on connect.
-- One row covers a range of a conversation: (from_seq, to_seq], except an
-- expiry, which names its (deleted) message. Events are numbered per
-- sender (users.receipt_seq, taken under the sender's row lock), so they
-- commit in number order even with several writers: a device's cursor
-- never passes an event that has yet to commit.
CREATE TABLE receipt_events (
    sender_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    status          TEXT NOT NULL,
    from_seq        INTEGER NOT NULL,
    to_seq          INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    message_id      TEXT,
    PRIMARY KEY (sender_id, seq)
);
CREATE INDEX receipt_events_recipient ON receipt_events (conversation_id, recipient_id, status, to_seq);
