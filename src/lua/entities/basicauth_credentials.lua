-- Kong 3.10's basic-auth credential (kong/plugins/basic-auth/daos.lua,
-- `basicauth_credentials`). Kong's `transformations` entry (the password replaced by
-- `crypto.hash(consumer.id, password)` on write) is done in Rust
-- (src/entities/credentials.rs): the sandbox has no SHA-1.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "basicauth_credentials",
  primary_key = { "id" },
  cache_key = { "username" },
  endpoint_key = "username",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { consumer = { type = "foreign", reference = "consumers", required = true, on_delete = "cascade" } },
    { username = { type = "string", required = true, unique = true } },
    { password = { type = "string", required = true } },
    { tags = typedefs.tags },
  },
}
