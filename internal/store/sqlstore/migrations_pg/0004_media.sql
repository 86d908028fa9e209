-- Media uploads on PostgreSQL: the same table as migrations/0004_media.sql
-- (where each column is explained), in PostgreSQL's types.
CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    uploader_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    declared_size BIGINT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    size          BIGINT NOT NULL DEFAULT 0,
    width         INTEGER NOT NULL DEFAULT 0,
    height        INTEGER NOT NULL DEFAULT 0,
    duration_ms   BIGINT NOT NULL DEFAULT 0,
    codec         TEXT NOT NULL DEFAULT '',
    waveform      BYTEA,
    thumb_size    BIGINT NOT NULL DEFAULT 0,
    variant_size  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    completed_at  BIGINT
);
CREATE INDEX media_created ON media (created_at);
CREATE INDEX media_status_created ON media (status, created_at);
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
