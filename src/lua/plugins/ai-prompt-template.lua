-- Kong 3.10's ai-prompt-template plugin.
--
-- Sources: Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/AiPromptTemplate.json`
-- (commit 0963c02aa52991091057f4176b41b252d47e16be) for the fields, defaults and
-- descriptions (3.10 adds `max_request_body_size`); Kong/kong
-- `kong/plugins/ai-prompt-template/schema.lua` (commit
-- 1fdc5cf22a77191428d52712ffbc6c48716db48b) for the required flags.
local typedefs = require "kong.db.schema.typedefs"

local template = {
  type = "record",
  required = true,
  fields = {
    { name = {
        description = "Unique name for the template, can be called with `{template://NAME}`",
        type = "string",
        required = true,
    } },
    { template = {
        description = "Template string for this request, supports mustache-style `{{placeholders}}`",
        type = "string",
        required = true,
    } },
  },
}

return {
  name = "ai-prompt-template",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { templates = {
              description = "Array of templates available to the request context.",
              type = "array",
              required = true,
              elements = template,
          } },
          { allow_untemplated_requests = {
              description = "Set true to allow requests that don't call or match any template.",
              type = "boolean",
              required = true,
              default = true,
          } },
          { log_original_request = {
              description = "Set true to add the original request to the Kong log plugin(s) output.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { max_request_body_size = {
              description = "max allowed body size allowed to be introspected",
              type = "integer",
              default = 8 * 1024,
              gt = 0,
          } },
        },
    } },
  },
}
