-- request-size-limiting, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/request-size-limiting/schema.lua` (3.x; its units come
-- from the plugin's handler, `{ "megabytes", "kilobytes", "bytes" }`, the first being the
-- default); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.11/RequestSizeLimiting.json` (3.9's is the same).
local typedefs = require "kong.db.schema.typedefs"

local SIZE_UNITS = { "megabytes", "kilobytes", "bytes" }

return {
  name = "request-size-limiting",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { allowed_payload_size = {
              description = "Allowed request payload size in megabytes. Default is `128` megabytes (128000000 bytes).",
              type = "integer",
              default = 128,
          } },
          { size_unit = {
              description = "Size unit can be set either in `bytes`, `kilobytes`, or `megabytes` (default). This configuration is not available in versions prior to Kong Gateway 1.3 and Kong Gateway (OSS) 2.0.",
              type = "string",
              required = true,
              default = SIZE_UNITS[1],
              one_of = SIZE_UNITS,
          } },
          { require_content_length = {
              description = "Set to `true` to ensure a valid `Content-Length` header exists before reading the request body.",
              type = "boolean",
              required = true,
              default = false,
          } },
        },
    } },
  },
}
