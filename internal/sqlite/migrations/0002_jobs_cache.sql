CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    webhook_url TEXT NOT NULL DEFAULT '',
    crawl       TEXT NOT NULL DEFAULT '',  -- JSON, crawl jobs only
    defaults    TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,          -- unix nanoseconds
    finished_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE job_items (
    job_id               TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx                  INTEGER NOT NULL,
    url                  TEXT NOT NULL,
    options              TEXT NOT NULL,
    depth                INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    error_code           TEXT NOT NULL DEFAULT '',
    error_message        TEXT NOT NULL DEFAULT '',
    returned_status_code INTEGER NOT NULL DEFAULT 0,
    artifact_key         TEXT NOT NULL DEFAULT '',
    format               TEXT NOT NULL DEFAULT '',
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX job_items_url ON job_items (job_id, url);
CREATE INDEX job_items_open ON job_items (status) WHERE status IN ('queued', 'running');

CREATE TABLE cache_entries (
    key                  TEXT PRIMARY KEY,
    blob_key             TEXT NOT NULL,
    format               TEXT NOT NULL,
    width                INTEGER NOT NULL,
    height               INTEGER NOT NULL,
    returned_status_code INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL
);
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);
