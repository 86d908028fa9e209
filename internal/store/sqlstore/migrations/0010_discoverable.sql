-- Who may find a user by its username (GET /api/v1/users?username=):
-- everyone, or nobody (then only its exact id finds it). Lookups read it
-- with the user's row, by username_key, so it needs no index of its own.
ALTER TABLE users ADD COLUMN discoverable TEXT NOT NULL DEFAULT 'everyone';
