-- correlation-id, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/correlation-id/schema.lua` (3.x: fields, defaults,
-- one_of); Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.13/CorrelationId.json`
-- (no 3.10 file is published; the 3.13 rendering has the same fields and texts).
local typedefs = require "kong.db.schema.typedefs"

local GENERATORS = { "uuid", "uuid#counter", "tracker" }

return {
  name = "correlation-id",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { header_name = {
              description = "The HTTP header name to use for the correlation ID.",
              type = "string",
              default = "Kong-Request-ID",
          } },
          { generator = {
              description = "The generator to use for the correlation ID. Accepted values are `uuid`, `uuid#counter`, and `tracker`. See [Generators](#generators).",
              type = "string",
              required = true,
              default = "uuid#counter",
              one_of = GENERATORS,
          } },
          { echo_downstream = {
              description = "Whether to echo the header back to downstream (the client).",
              type = "boolean",
              required = true,
              default = false,
          } },
        },
    } },
  },
}
