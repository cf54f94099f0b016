-- Deleting an entity finds its unique keys by this index (the cascade of
-- core_entity_keys' foreign key): without it, each deleted row scanned every key of its
-- kind, so deleting a control plane cost the square of its entities.
-- Keep in step with ../sqlite/0005_linear_deletes.sql.
CREATE INDEX core_entity_keys_by_entity ON core_entity_keys (control_plane_id, entity_type, id);

-- Set (epoch milliseconds) while a control plane's rows are removed in short
-- transactions: it is already gone for every read, and a restart finishes the job.
ALTER TABLE control_planes ADD COLUMN deleting BIGINT;
