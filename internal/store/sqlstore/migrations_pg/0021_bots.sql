-- Bot accounts (docs/PROTOCOL.md, "Bots"): a bot is a user, so that it is
-- found, messaged and added to groups like anyone; bot_owner_id marks it
-- and names the user who manages it (NULL: a person). A bot has no
-- password (password_hash ''): its API key is a session of its own, a
-- devices row whose token_hash is the key's, so that authentication,
-- rate limits and revocation need nothing new.
ALTER TABLE users ADD COLUMN bot_owner_id TEXT;
-- An owner's bots are listed and counted (--max-bots-per-user) without
-- reading every user.
CREATE INDEX users_bot_owner ON users (bot_owner_id) WHERE bot_owner_id IS NOT NULL;
