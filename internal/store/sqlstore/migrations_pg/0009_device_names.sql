-- A session shows its user where it was signed in: the name the client
-- gave at login, or its User-Agent (docs/PROTOCOL.md §1, devices).
ALTER TABLE devices ADD COLUMN name TEXT NOT NULL DEFAULT '';
