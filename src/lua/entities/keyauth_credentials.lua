-- Kong 3.10's key-auth credential (kong/plugins/key-auth/daos.lua, `keyauth_credentials`):
-- a key generated when absent (Kong's `auto` string, 32 random hex characters), unique
-- per control plane; the consumer it belongs to, deleted with it.
-- Kong's entity is `ttl = true` (the Admin API takes `ttl` beside the fields); Konnect's
-- KeyAuth object lists it as a field, so it is one here.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "keyauth_credentials",
  primary_key = { "id" },
  endpoint_key = "key",
  cache_key = { "key" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { consumer = { type = "foreign", reference = "consumers", required = true, on_delete = "cascade" } },
    { key = { type = "string", required = false, unique = true, auto = true } },
    { ttl = { type = "integer", between = { 0, 100000000 } } },
    { tags = typedefs.tags },
  },
}
