-- Kong 3.10's acl credential (kong/plugins/acl/daos.lua, `acls`): a group a consumer is
-- in. Its `cache_key = { "consumer", "group" }` makes a group unique per consumer
-- (src/entities/kinds.rs, `ACLS`).
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "acls",
  primary_key = { "id" },
  endpoint_key = "group",
  cache_key = { "consumer", "group" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { consumer = { type = "foreign", reference = "consumers", required = true, on_delete = "cascade" } },
    { group = { type = "string", required = true } },
    { tags = typedefs.tags },
  },
}
