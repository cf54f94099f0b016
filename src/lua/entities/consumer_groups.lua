-- Kong Enterprise 3.10's `consumer_groups` entity (kong/db/schema/entities/consumer_groups.lua
-- in the EE tree; Konnect exposes it). Kong also marks `name` `indexed = true` (a database
-- index hint) and sets `cache_key = { "name" }`; neither changes validation.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "consumer_groups",
  primary_key = { "id" },
  endpoint_key = "name",
  cache_key = { "name" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { name = { type = "string", required = true, unique = true } },
    { tags = typedefs.tags },
  },
}
