-- Replies (issue 17): reply_to names the message a message answers, in
-- the same conversation; the quote_ columns are what the reply shows of
-- it (sender, type, the first 200 bytes of content), taken at commit so a
-- reply reads in one row and keeps its quote when the original expires.
ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN quote_sender TEXT;
ALTER TABLE messages ADD COLUMN quote_type TEXT;
ALTER TABLE messages ADD COLUMN quote_content TEXT;
