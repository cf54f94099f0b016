-- Kong 3.10's `ca_certificates` entity (kong/db/schema/entities/ca_certificates.lua).
-- Kong parses the certificate with OpenSSL, computes `cert_digest` (a transformation)
-- and checks it is one unexpired CA certificate (a custom entity check); konnektd does
-- those in Rust (src/entities/tls.rs), with Kong's messages.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "ca_certificates",
  primary_key = { "id" },
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { cert = { type = "string", required = true } },
    { cert_digest = { type = "string", unique = true } },
    { tags = typedefs.tags },
  },
}
