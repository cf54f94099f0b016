-- Kong 3.10's ai-prompt-decorator plugin.
--
-- Sources: Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/AiPromptDecorator.json`
-- (commit 0963c02aa52991091057f4176b41b252d47e16be) for the fields, defaults, lengths and
-- descriptions (3.10: `content` up to 100000 bytes, `max_request_body_size`, `llm_format`);
-- Kong/kong `kong/plugins/ai-prompt-decorator/schema.lua` (commit
-- 08b2845e1657898b19809c0608194008082eef09) for the required flags and the entity check.
local typedefs = require "kong.db.schema.typedefs"

local message = {
  type = "record",
  required = false,
  fields = {
    { role = { type = "string", required = true, default = "system",
               one_of = { "system", "assistant", "user" } } },
    { content = { type = "string", required = true, len_min = 1, len_max = 100000 } },
  },
}

return {
  name = "ai-prompt-decorator",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { prompts = {
              type = "record",
              required = false,
              fields = {
                { prepend = {
                    description = "Insert chat messages at the beginning of the chat message array. This array preserves exact order when adding messages.",
                    type = "array",
                    required = false,
                    len_max = 15,
                    elements = message,
                } },
                { append = {
                    description = "Insert chat messages at the end of the chat message array. This array preserves exact order when adding messages.",
                    type = "array",
                    required = false,
                    len_max = 15,
                    elements = message,
                } },
              },
          } },
          { max_request_body_size = {
              description = "max allowed body size allowed to be introspected",
              type = "integer",
              default = 8 * 1024,
              gt = 0,
          } },
          { llm_format = {
              description = "LLM input and output format and schema to use",
              type = "string",
              required = false,
              default = "openai",
              one_of = { "openai", "bedrock", "gemini" },
          } },
        },
    } },
  },
  entity_checks = {
    { at_least_one_of = { "config.prompts.prepend", "config.prompts.append" } },
  },
}
