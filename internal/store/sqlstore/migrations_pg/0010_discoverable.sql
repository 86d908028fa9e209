-- Who may find a user by its username (migrations/0009_discoverable.sql).
ALTER TABLE users ADD COLUMN discoverable TEXT NOT NULL DEFAULT 'everyone';
