-- Kong 3.10's `keys` entity (kong/db/schema/entities/keys.lua): a JWK (a JSON string) or
-- a PEM pair, never both, optionally in a key set. Kong's custom entity check decodes
-- the JWK, compares its `kid` and loads it with OpenSSL, and `typedefs.pem` loads the PEM
-- keys; the sandbox has neither JSON nor OpenSSL, so konnektd runs them in Rust
-- (src/entities/keys.rs) with Kong's messages. `KEY_FORMATS` is kong/constants.lua's.
local typedefs = require "kong.db.schema.typedefs"

local KEY_FORMATS = { "jwk", "pem" }

return {
  name = "keys",
  primary_key = { "id" },
  cache_key = { "kid", "set" },
  endpoint_key = "name",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { set = { type = "foreign", required = false, reference = "key_sets", on_delete = "cascade" } },
    { name = { type = "string", required = false, unique = true } },
    { kid = { type = "string", required = true, unique = false } },
    { jwk = { type = "string", referenceable = true, encrypted = true } },
    { pem = typedefs.pem },
    { tags = typedefs.tags },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
  },

  entity_checks = {
    { mutually_exclusive = KEY_FORMATS },
    { at_least_one_of = KEY_FORMATS },
  },
}
