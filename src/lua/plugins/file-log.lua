-- Kong 3.10's file-log plugin.
-- Sources: Kong/kong `kong/plugins/file-log/schema.lua` (3.x with descriptions, the 3.10
-- field list: path, reopen, custom_fields_by_lua); developer.konghq.com
-- `app/_schemas/gateway/plugins/3.13/FileLog.json` (no 3.9-3.12 rendering is stored; the
-- fields, defaults and descriptions are the same as the Kong source's).
local typedefs = require "kong.db.schema.typedefs"

-- A file name may not contain `*`, `&`, `%`, a backslash or a backtick.
local FILE_NAME = [[^[^*&%%\`]+$]]

return {
  name = "file-log",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { path = {
              description = "The file path of the output log file. The plugin creates the log file if it doesn't exist yet.",
              type = "string",
              required = true,
              match = FILE_NAME,
              err = "not a valid filename",
          } },
          { reopen = {
              description = "Determines whether the log file is closed and reopened on every request.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { custom_fields_by_lua = typedefs.lua_code },
        },
    } },
  },
}
