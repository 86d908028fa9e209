-- A user's contacts are the users it chose: the other member of a 1:1 it
-- created, or one it wrote to. Sharing a 1:1 is not enough: anyone who
-- knows a user id can create one, and would thereby have seen a "contacts
-- only" presence. answered records that the member who did not create a
-- 1:1 has written in it (it chose the creator); it is set by the group
-- commit, with the conversation's sequence number, at no extra statement.
ALTER TABLE conversations ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET answered = 1
 WHERE type = '1:1'
   AND EXISTS (SELECT 1 FROM messages m
                WHERE m.conversation_id = conversations.id AND m.sender_id != conversations.created_by);
