-- Profiles (migrations/0013_profiles.sql; docs/PROTOCOL.md §1, "Profiles"): a user's "about" text and
-- avatar, and who may see each (everyone, contacts or nobody). avatar_id
-- names the blob objects avatars/<avatar_id>/640.jpg and /96.jpg; '' is
-- no avatar. The avatar is not a media item: media expire with the
-- retention period, an avatar lives until it is replaced or removed.
ALTER TABLE users ADD COLUMN about TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_visibility TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE users ADD COLUMN about_visibility TEXT NOT NULL DEFAULT 'everyone';
-- A group's avatar, the same way.
ALTER TABLE conversations ADD COLUMN avatar_id TEXT NOT NULL DEFAULT '';
