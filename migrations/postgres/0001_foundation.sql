-- Tokens and control planes. Timestamps are epoch milliseconds; ids are UUID text.
-- Keep every table and column in step with ../sqlite/0001_foundation.sql.

CREATE TABLE tokens (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    -- SHA-256 of the token, hex; the token itself is never stored.
    digest          TEXT    NOT NULL UNIQUE,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    revoked_at      BIGINT,
    -- JSON array of control plane ids, or NULL for all of them.
    control_planes  TEXT
);
-- A name may be reused once the token holding it is revoked.
CREATE UNIQUE INDEX tokens_active_name_key ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE control_planes (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    description     TEXT    NOT NULL,
    cluster_type    TEXT    NOT NULL,
    auth_type       TEXT    NOT NULL,
    cloud_gateway   BIGINT  NOT NULL,
    -- JSON array of {host, port, protocol}.
    proxy_urls      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX control_planes_created_at_idx ON control_planes (created_at, id);

-- One row per label, so list filters stay plain SQL on both backends.
CREATE TABLE control_plane_labels (
    control_plane_id TEXT NOT NULL REFERENCES control_planes (id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    value            TEXT NOT NULL,
    PRIMARY KEY (control_plane_id, key)
);
CREATE INDEX control_plane_labels_key_value_idx ON control_plane_labels (key, value);
