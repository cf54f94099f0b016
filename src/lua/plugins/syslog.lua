-- Kong 3.10's syslog plugin.
-- Sources: Kong/kong `kong/plugins/syslog/schema.lua` (3.x: `facility`, lower-case names,
-- required severities); developer.konghq.com `app/_schemas/gateway/plugins/3.9/Syslog.json`
-- (no 3.10 rendering is stored; the fields are unchanged since 2.5).
local typedefs = require "kong.db.schema.typedefs"

local SEVERITIES = { "debug", "info", "notice", "warning", "err", "crit", "alert", "emerg" }

-- Each severity field is its own table, all alike.
local function severity()
  return { type = "string", required = true, default = "info", one_of = SEVERITIES }
end

local FACILITIES = { "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail",
                     "news", "syslog", "user", "uucp" }
for i = 0, 7 do
  FACILITIES[#FACILITIES + 1] = "local" .. i
end

return {
  name = "syslog",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { log_level = severity() },
          { successful_severity = severity() },
          { client_errors_severity = severity() },
          { server_errors_severity = severity() },
          { custom_fields_by_lua = typedefs.lua_code },
          { facility = {
              description = "The facility is used by the operating system to decide how to handle each log message.",
              type = "string",
              required = true,
              default = "user",
              one_of = FACILITIES,
          } },
        },
    } },
  },
}
