-- Core entities (services, routes, consumers, consumer groups, plugins) of every control
-- plane, in one generic shape. Keep in step with ../postgres/0003_core_entities.sql.
CREATE TABLE core_entities (
    control_plane_id TEXT    NOT NULL REFERENCES control_planes (id) ON DELETE CASCADE,
    entity_type      TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    -- The endpoint name (service/route/group name, consumer username, plugin name).
    name             TEXT,
    -- The validated entity as Kong's DAO would store it, with explicit nulls.
    body             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (control_plane_id, entity_type, id)
);

-- Unique keys (a service's name, a consumer's custom_id, a plugin's scope...); values
-- longer than an index entry can hold are stored as their SHA-256.
CREATE TABLE core_entity_keys (
    control_plane_id TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    key_name         TEXT NOT NULL,
    key_value        TEXT NOT NULL,
    id               TEXT NOT NULL,
    PRIMARY KEY (control_plane_id, entity_type, key_name, key_value),
    FOREIGN KEY (control_plane_id, entity_type, id)
        REFERENCES core_entities (control_plane_id, entity_type, id) ON DELETE CASCADE
);

-- Foreign fields (a route's service, a plugin's consumer...). The target side has no
-- ON DELETE action: what deleting a target does is Kong's per-field rule, applied first.
CREATE TABLE core_entity_refs (
    control_plane_id TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    id               TEXT NOT NULL,
    field            TEXT NOT NULL,
    target_type      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    PRIMARY KEY (control_plane_id, entity_type, id, field),
    FOREIGN KEY (control_plane_id, entity_type, id)
        REFERENCES core_entities (control_plane_id, entity_type, id) ON DELETE CASCADE,
    FOREIGN KEY (control_plane_id, target_type, target_id)
        REFERENCES core_entities (control_plane_id, entity_type, id)
);
CREATE INDEX core_entity_refs_by_target ON core_entity_refs (control_plane_id, target_type, target_id);

CREATE TABLE core_entity_tags (
    control_plane_id TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    id               TEXT NOT NULL,
    tag              TEXT NOT NULL,
    PRIMARY KEY (control_plane_id, entity_type, id, tag),
    FOREIGN KEY (control_plane_id, entity_type, id)
        REFERENCES core_entities (control_plane_id, entity_type, id) ON DELETE CASCADE
);
CREATE INDEX core_entity_tags_by_tag ON core_entity_tags (control_plane_id, entity_type, tag);
