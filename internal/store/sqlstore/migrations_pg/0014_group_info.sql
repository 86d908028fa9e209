-- Group description and settings (docs/PROTOCOL.md, "Group info and
-- settings"). The booleans are 0/1 integers, as answered is.
ALTER TABLE conversations ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN only_admins_send INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN only_admins_edit_info INTEGER NOT NULL DEFAULT 0;
-- Before this migration only admins could rename a group: the groups that
-- exist keep that rule, new ones start open (the WhatsApp default).
UPDATE conversations SET only_admins_edit_info = 1 WHERE type = 'group';
-- Invite links (docs/PROTOCOL.md, "Invite links"). code is the link's
-- secret, kept as it is because admins list and copy their links again. A
-- row exists while the link is valid; revoking deletes it.
CREATE TABLE invites (
    code            TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_by      TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL
);
CREATE INDEX invites_by_conversation ON invites (conversation_id, created_at);
