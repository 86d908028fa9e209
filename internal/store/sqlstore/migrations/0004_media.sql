-- Media uploads (issue 7). The bytes live in the blob store under
-- "<id>/..."; this row is the upload's state and what processing learned.
-- status: pending, processing, ready, failed (reason says why).
CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    uploader_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    declared_size INTEGER NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL DEFAULT 0,
    width         INTEGER NOT NULL DEFAULT 0,
    height        INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    codec         TEXT NOT NULL DEFAULT '',
    waveform      BLOB,
    thumb_size    INTEGER NOT NULL DEFAULT 0,
    variant_size  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER
);
-- Sweep of abandoned uploads and expiry by age.
CREATE INDEX media_created ON media (created_at);
CREATE INDEX media_status_created ON media (status, created_at);
-- Who may fetch a media item: the messages that carry it.
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
