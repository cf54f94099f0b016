-- Kong 3.10's udp-log plugin.
-- Sources: Kong/kong `kong/plugins/udp-log/schema.lua` (3.x: host, port, timeout,
-- custom_fields_by_lua); developer.konghq.com `app/_schemas/gateway/plugins/3.13/UdpLog.json`
-- (no 3.9-3.12 rendering is stored; it gives timeout's description, host and port carry
-- their typedefs' descriptions).
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "udp-log",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { host = typedefs.host { required = true } },
          { port = typedefs.port { required = true } },
          { timeout = {
              description = "An optional timeout in milliseconds when sending data to the upstream server.",
              type = "number",
              default = 10000,
          } },
          { custom_fields_by_lua = typedefs.lua_code },
        },
    } },
  },
}
