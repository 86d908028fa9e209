-- A member who leaves keeps its row: left_seq is the sequence number of the
-- system message that removed it. It sees messages with
-- joined_seq < seq < left_seq, so what was sent before its removal is still
-- delivered to its devices, and nothing after. NULL: a current member.
ALTER TABLE members ADD COLUMN left_seq INTEGER;
