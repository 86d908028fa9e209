-- Account deletion (docs/PROTOCOL.md, "Deleting an account"): the row
-- stays, emptied, so that the messages the account sent keep a sender to
-- show ("deleted account"); deleted_at (Unix milliseconds) marks it. Its
-- username stays taken for the retention period, then the retention job
-- frees it (username_key becomes 'deleted:' || id).
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
-- A deleted account's uploads are found by uploader.
CREATE INDEX media_uploader ON media (uploader_id);
-- The retention job finds deleted accounts (to finish them, to free their
-- usernames) without reading every user.
CREATE INDEX users_deleted ON users (deleted_at) WHERE deleted_at IS NOT NULL;
