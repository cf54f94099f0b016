-- Fields of Kong 3.x's key-auth plugin (see NOTES.md).
local typedefs = require "kong.db.schema.typedefs"

local config = {
  type = "record",
  fields = {
    { key_names = { type = "array", required = true, default = { "apikey" },
                    elements = typedefs.header_name } },
    { hide_credentials = { type = "boolean", required = true, default = false } },
    { anonymous = { type = "string" } },
    { key_in_header = { type = "boolean", required = true, default = true } },
    { key_in_query = { type = "boolean", required = true, default = true } },
    { key_in_body = { type = "boolean", required = true, default = false } },
    { run_on_preflight = { type = "boolean", required = true, default = true } },
    { realm = { type = "string", required = false } },
  },
}

return {
  name = "key-auth",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = config },
  },
}
