-- Custom plugin schemas, per control plane. Keep in step with ../sqlite/0002_plugin_schemas.sql.
CREATE TABLE plugin_schemas (
    control_plane_id TEXT    NOT NULL REFERENCES control_planes (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    -- The uploaded source, verbatim: validators are re-run from it.
    lua_schema       TEXT    NOT NULL,
    -- Kong's JSON rendering of the plugin's own fields.
    json_schema      TEXT    NOT NULL,
    -- The rendering merged into the base plugin fields, as /schemas/plugins/{name} serves it.
    merged_schema    TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (control_plane_id, name)
);
