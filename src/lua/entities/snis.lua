-- Kong 3.10's `snis` entity (kong/db/schema/entities/snis.lua): a host name (one
-- wildcard, leftmost or rightmost) pointing at a certificate, unique in its control plane.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "snis",
  primary_key = { "id" },
  endpoint_key = "name",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { name = typedefs.wildcard_host { required = true, unique = true } },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { tags = typedefs.tags },
    { certificate = { type = "foreign", reference = "certificates", required = true } },
  },
}
