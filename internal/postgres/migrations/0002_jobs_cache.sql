CREATE TABLE jobs (
    id          text PRIMARY KEY,
    key_id      text NOT NULL,
    kind        text NOT NULL,
    status      text NOT NULL,
    webhook_url text NOT NULL DEFAULT '',
    crawl       text NOT NULL DEFAULT '',   -- JSON, crawl jobs only
    defaults    text NOT NULL DEFAULT '{}', -- JSON as the client sent it (jsonb would reformat it)
    created_at  timestamptz NOT NULL,
    finished_at timestamptz                 -- NULL until done or canceled
);
CREATE INDEX jobs_ended ON jobs (finished_at) WHERE status IN ('done', 'canceled');

CREATE TABLE job_items (
    job_id               text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx                  integer NOT NULL,
    url                  text NOT NULL,
    options              text NOT NULL,
    depth                integer NOT NULL DEFAULT 0,
    status               text NOT NULL,
    error_code           text NOT NULL DEFAULT '',
    error_message        text NOT NULL DEFAULT '',
    returned_status_code integer NOT NULL DEFAULT 0,
    artifact_key         text NOT NULL DEFAULT '',
    format               text NOT NULL DEFAULT '',
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX job_items_url ON job_items (job_id, url);
CREATE INDEX job_items_open ON job_items (status) WHERE status IN ('queued', 'running');

CREATE TABLE cache_entries (
    key                  text PRIMARY KEY,
    blob_key             text NOT NULL,
    format               text NOT NULL,
    width                integer NOT NULL,
    height               integer NOT NULL,
    returned_status_code integer NOT NULL,
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL
);
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);
