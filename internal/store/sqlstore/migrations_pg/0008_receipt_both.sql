-- A member that receives and reads the same messages within one commit
-- cycle (a chat on screen) moves both cursors over the same range: one
-- "read" event with also_delivered = 1 records both changes, where two
-- events (and two rows in every receipt_events index) did before. The
-- sender is still told "delivered" then "read" for each message.
ALTER TABLE receipt_events ADD COLUMN also_delivered INTEGER NOT NULL DEFAULT 0;
