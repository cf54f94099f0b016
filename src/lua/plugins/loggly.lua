-- Kong 3.10's loggly plugin.
-- Sources: Kong/kong `kong/plugins/loggly/schema.lua` (3.x, with custom_fields_by_lua);
-- developer.konghq.com `app/_schemas/gateway/plugins/3.9/Loggly.json` (no 3.10 rendering is
-- stored): `key` is encrypted and referenceable, `tags` a set defaulting to `["kong"]`.
local typedefs = require "kong.db.schema.typedefs"

local SEVERITIES = { "debug", "info", "notice", "warning", "err", "crit", "alert", "emerg" }

local function severity()
  return { type = "string", default = "info", one_of = SEVERITIES }
end

return {
  name = "loggly",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { host = typedefs.host { default = "logs-01.loggly.com" } },
          { port = typedefs.port { default = 514 } },
          { key = { type = "string", required = true, encrypted = true, referenceable = true } },
          { tags = { type = "set", default = { "kong" }, elements = { type = "string" } } },
          { log_level = severity() },
          { successful_severity = severity() },
          { client_errors_severity = severity() },
          { server_errors_severity = severity() },
          { timeout = { type = "number", default = 10000 } },
          { custom_fields_by_lua = typedefs.lua_code },
        },
    } },
  },
}
