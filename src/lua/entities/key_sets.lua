-- Kong 3.10's `key_sets` entity (kong/db/schema/entities/key_sets.lua): a named group of
-- keys, served at `key-sets` (its `admin_api_name`); deleting one deletes its keys.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "key_sets",
  primary_key = { "id" },
  endpoint_key = "name",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { name = { type = "string", required = false, unique = true } },
    { tags = typedefs.tags },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
  },
}
