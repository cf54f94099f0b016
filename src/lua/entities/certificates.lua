-- Kong 3.10's `certificates` entity (kong/db/schema/entities/certificates.lua). Kong's
-- `typedefs.certificate` / `typedefs.key` parse the PEM with OpenSSL and its entity
-- checks compare keys; the sandbox has no TLS library, so konnektd does both in Rust
-- (src/entities/tls.rs) with Kong's messages. Values may be vault references.
local typedefs = require "kong.db.schema.typedefs"

local function pem() return { type = "string", referenceable = true } end

return {
  name = "certificates",
  primary_key = { "id" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { cert = { type = "string", referenceable = true, required = true } },
    { key = { type = "string", referenceable = true, encrypted = true, required = true } },
    { cert_alt = pem() },
    { key_alt = { type = "string", referenceable = true, encrypted = true } },
    { tags = typedefs.tags },
  },

  entity_checks = {
    { mutually_required = { "cert_alt", "key_alt" } },
  },
}
