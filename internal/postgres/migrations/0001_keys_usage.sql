CREATE TABLE api_keys (
    id             text COLLATE "C" PRIMARY KEY, -- byte order, as on SQLite
    name           text NOT NULL,
    plan           text NOT NULL,
    scopes         text[] NOT NULL,
    secret_hash    bytea NOT NULL,
    signing_secret text NOT NULL,
    webhook_secret text NOT NULL,
    signed_only    boolean NOT NULL DEFAULT false,
    url_allow      text[] NOT NULL DEFAULT '{}',
    url_block      text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,             -- NULL: never
    revoked_at     timestamptz              -- NULL: not revoked
);

-- One row per key and period: the committed count, and the row that every
-- reservation of the key in the period locks (SELECT ... FOR UPDATE) before
-- it counts, so that reservations of any number of nodes never overshoot.
CREATE TABLE usage (
    key_id    text NOT NULL,
    period    text NOT NULL,
    committed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, period)
);

-- A job's units are named "JOB/INDEX"; the ids compare byte by byte (C) so
-- that the range of a job's ids ("JOB/" up to "JOB0") is one index scan
-- whatever the database's collation.
CREATE TABLE usage_reservations (
    id         text COLLATE "C" PRIMARY KEY,
    key_id     text NOT NULL,
    period     text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX usage_reservations_key ON usage_reservations (key_id, period, expires_at);
