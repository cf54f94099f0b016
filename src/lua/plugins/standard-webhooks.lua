-- standard-webhooks (new in Kong 3.8), as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/standard-webhooks/schema.lua` (3.8+: no consumer,
-- `tolerance_second` greater than -1); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.8/StandardWebhooks.json` ("minimum": -1) and
-- `3.12/StandardWebhooks.json` (no 3.10 file is published; both have the same fields).
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "standard-webhooks",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { secret_v1 = {
              description = "Webhook secret",
              type = "string",
              required = true,
              referenceable = true,
              encrypted = true,
          } },
          { tolerance_second = {
              description = "Tolerance of the webhook timestamp in seconds. If the webhook timestamp is older than this number of seconds, it will be rejected with a '400' response.",
              type = "integer",
              required = true,
              gt = -1,
              default = 300,
          } },
        },
    } },
  },
}
