-- The message lifecycle (issue 17): edits, deletions, reactions,
-- forwarding and disappearing messages.
--
-- An edit or a deletion changes the message row in place, so that
-- history, the offline queue and gap fill read the message as it is now;
-- deleted_at marks a tombstone (content and media erased). forwarded
-- counts the hops of a forwarded message and forward_of names the
-- message it was forwarded from; expires_at is when a disappearing
-- message goes, NULL when the conversation did not have them on.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
ALTER TABLE messages ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN forward_of TEXT;
ALTER TABLE messages ADD COLUMN expires_at BIGINT;
CREATE INDEX messages_expires ON messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX messages_forwards ON messages (sender_id, forward_of) WHERE forward_of IS NOT NULL;
-- A deletion erases the quotes of it in replies.
CREATE INDEX messages_replies ON messages (reply_to) WHERE reply_to IS NOT NULL;

-- 0 (off) or the seconds after which a new message disappears.
ALTER TABLE conversations ADD COLUMN disappear_seconds INTEGER NOT NULL DEFAULT 0;

-- One reaction per user per message.
CREATE TABLE reactions (
    message_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    emoji           TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

-- "Delete for me": the message is hidden from this user's devices.
CREATE TABLE hidden_messages (
    user_id         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX hidden_messages_message ON hidden_messages (message_id);

-- Update events: what happened to messages that devices may already hold
-- (an edit, a deletion, a reaction, a "delete for me"), one row per
-- change whatever the number of members, numbered per conversation
-- (update_seqs, taken under the counter row's lock as receipt events'
-- numbers are), so a device keeps one cursor per conversation beside its
-- queue's (device_cursors.update_seq) and tells a lost event by the gap.
-- message_seq and after_seq (the conversation's last sequence number
-- when the change was made) place it in members' windows: a member does
-- not hear of a change made after it left. A row names what changed; the
-- frame is read from the message, reaction or hidden row as they are now.
CREATE TABLE update_events (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    message_id      TEXT NOT NULL,
    message_seq     BIGINT NOT NULL,
    after_seq       BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX update_events_at ON update_events (at);
CREATE TABLE update_seqs (
    conversation_id TEXT PRIMARY KEY,
    seq             BIGINT NOT NULL
);
ALTER TABLE device_cursors ADD COLUMN update_seq BIGINT NOT NULL DEFAULT 0;
