-- Kong 3.10's hmac-auth credential (kong/plugins/hmac-auth/daos.lua,
-- `hmacauth_credentials`): the secret is generated when absent.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "hmacauth_credentials",
  primary_key = { "id" },
  endpoint_key = "username",
  cache_key = { "username" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { consumer = { type = "foreign", reference = "consumers", required = true, on_delete = "cascade" } },
    { username = { type = "string", required = true, unique = true } },
    { secret = { type = "string", auto = true } },
    { tags = typedefs.tags },
  },
}
