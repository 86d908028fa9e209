-- Who may see a user's last seen and online status: everyone, contacts
-- (users it shares a 1:1 conversation with) or nobody.
ALTER TABLE users ADD COLUMN last_seen_visibility TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE users ADD COLUMN online_visibility TEXT NOT NULL DEFAULT 'everyone';
-- Contacts are found through the pair key of 1:1 conversations.
CREATE INDEX members_conversation_user ON members (user_id, conversation_id);
