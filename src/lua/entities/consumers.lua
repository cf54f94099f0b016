-- Kong 3.10's `consumers` entity (kong/db/schema/entities/consumers.lua, CE).
-- Kong also marks username and custom_id `indexed = true`, a database index hint with
-- no effect on validation; it is left out here.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "consumers",
  primary_key = { "id" },
  endpoint_key = "username",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { username = { type = "string", unique = true } },
    { custom_id = { type = "string", unique = true } },
    { tags = typedefs.tags },
  },

  entity_checks = {
    -- Kong's order, which its message keeps: 'custom_id', 'username'.
    { at_least_one_of = { "custom_id", "username" } },
  },
}
