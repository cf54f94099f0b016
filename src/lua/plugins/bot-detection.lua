-- Kong 3.10's bot-detection plugin.
-- Sources: Kong/kong `kong/plugins/bot-detection/schema.lua` (3.x: `allow`/`deny` with
-- descriptions); developer.konghq.com `app/_schemas/gateway/plugins/3.7/BotDetection.json`
-- and `3.13/BotDetection.json` (no 3.10 file is published; both agree).
-- `is_regex` is PCRE in Kong; konnektd compiles with a PCRE-like engine
-- (docs/schema-engine.md, "Validators").
local typedefs = require "kong.db.schema.typedefs"

local function user_agents(description)
  return {
    description = description,
    type = "array", default = {},
    elements = { type = "string", is_regex = true },
  }
end

return {
  name = "bot-detection",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { allow = user_agents("An array of regular expressions that should be allowed. The regular expressions will be checked against the `User-Agent` header.") },
          { deny = user_agents("An array of regular expressions that should be denied. The regular expressions will be checked against the `User-Agent` header.") },
        },
    } },
  },
}
