-- Mentions (issue 17): the members a message names, as their ids joined
-- by spaces (NULL: none). Ids are fixed-length ULIDs, so a member's
-- unread mentions are counted by matching its id in its unread messages.
ALTER TABLE messages ADD COLUMN mentions TEXT;
