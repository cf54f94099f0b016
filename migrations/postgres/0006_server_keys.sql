-- Secrets every konnektd node sharing this database must agree on, such as the key that
-- signs web UI sessions, so a session opened on one node is accepted by all. Numbered
-- after its issue (17) so it never clashes with a sibling branch's next migration.
-- Keep in step with ../sqlite/0017_server_keys.sql.
CREATE TABLE server_keys (
    name       TEXT    PRIMARY KEY,
    -- Random bytes, hex.
    secret     TEXT    NOT NULL,
    created_at BIGINT NOT NULL
);
