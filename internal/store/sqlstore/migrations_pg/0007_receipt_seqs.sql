-- Receipt events are numbered per sender under a row lock held to the end
-- of the commit cycle's transaction. Kept on users, that lock made every
-- other write of a sender's row (last_seen on disconnect) wait for the
-- committer; the counter has a table of its own now.
CREATE TABLE receipt_seqs (
    user_id TEXT PRIMARY KEY,
    seq     BIGINT NOT NULL
);
INSERT INTO receipt_seqs (user_id, seq) SELECT id, receipt_seq FROM users WHERE receipt_seq > 0;
ALTER TABLE users DROP COLUMN receipt_seq;
