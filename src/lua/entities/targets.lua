-- Kong 3.10's `targets` entity (kong/db/schema/entities/targets.lua). What Kong's targets
-- DAO does besides (the address written as host:port, port 8000 by default; one target
-- of an address per upstream) is src/entities/upstreams.rs. `normalize_ip` comes from
-- normalize_ip.lua, prepended to this source.
local typedefs = require "kong.db.schema.typedefs"

local function validate_target(target)
  if not normalize_ip(target) then
    return nil, "Invalid target ('" .. target .. "'); not a valid hostname or ip address"
  end
  return true
end

return {
  name = "targets",
  primary_key = { "id" },
  cache_key = { "upstream", "target" },
  endpoint_key = "target",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_ms },
    { updated_at = typedefs.auto_timestamp_ms },
    { upstream = { type = "foreign", reference = "upstreams", required = true, on_delete = "cascade" } },
    { target = { type = "string", required = true, custom_validator = validate_target } },
    { weight = { type = "integer", default = 100, between = { 0, 65535 } } },
    { tags = typedefs.tags },
  },
}
