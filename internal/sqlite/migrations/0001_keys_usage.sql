CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    plan           TEXT NOT NULL,
    scopes         TEXT NOT NULL,            -- comma-separated
    secret_hash    BLOB NOT NULL,
    signing_secret TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    signed_only    INTEGER NOT NULL DEFAULT 0,
    url_allow      TEXT NOT NULL DEFAULT '', -- newline-separated
    url_block      TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,         -- unix nanoseconds
    expires_at     INTEGER NOT NULL DEFAULT 0,
    revoked_at     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE usage (
    key_id    TEXT NOT NULL,
    period    TEXT NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, period)
);

CREATE TABLE usage_reservations (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    period     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX usage_reservations_key ON usage_reservations (key_id, period, expires_at);
