-- Blocks (docs/PROTOCOL.md, "Blocking"): user_id blocked blocked_id at
-- created_at (Unix milliseconds). A row exists while the block holds;
-- unblocking deletes it.
CREATE TABLE blocks (
    user_id    TEXT NOT NULL REFERENCES users(id),
    blocked_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
-- Who blocks a user, for its contact set and presence.
CREATE INDEX blocks_by_blocked ON blocks (blocked_id);
-- A 1:1 message from a user the recipient blocks is stored for its sender
-- only (its other devices, its history, its idempotent resends) and
-- withheld from the recipient for good: never delivered, never counted,
-- never acknowledged, not even after an unblock.
ALTER TABLE messages ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0;
