-- A user's explicit choices about its contacts (docs/PROTOCOL.md §1,
-- presence privacy): state 1, it added contact_id; state 0, it removed
-- contact_id, which holds over the default rule (a 1:1 it created or
-- wrote in) until it adds them back. changed_at is the last add or
-- removal, in Unix milliseconds; an add of a contact already added keeps it.
CREATE TABLE contacts (
    user_id    TEXT NOT NULL REFERENCES users(id),
    contact_id TEXT NOT NULL REFERENCES users(id),
    state      INTEGER NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, contact_id)
);
-- Who chose a user, for its contact set.
CREATE INDEX contacts_by_contact ON contacts (contact_id);
