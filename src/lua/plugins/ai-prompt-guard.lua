-- Kong 3.10's ai-prompt-guard plugin.
--
-- Sources: Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/AiPromptGuard.json`
-- (commit 1bae062e611bdc4780fa913c224fe06458bbe67d) for the fields, defaults, lengths and
-- descriptions (3.10 adds `llm_format`); Kong/kong `kong/plugins/ai-prompt-guard/schema.lua`
-- (commit 2cec28df2d92f3cfab31f0438a99a165819db04c) for the required flags, `gt = 0` and
-- the entity checks. The patterns are PCRE that Kong compiles when a request comes, not
-- when the plugin is written: no `is_regex` here, as in Kong.
local typedefs = require "kong.db.schema.typedefs"

local function patterns(description)
  return {
    description = description,
    type = "array",
    required = false,
    len_max = 10,
    elements = { type = "string", len_min = 1, len_max = 500 },
  }
end

return {
  name = "ai-prompt-guard",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { allow_patterns = patterns("Array of valid regex patterns, or valid questions from the 'user' role in chat.") },
          { deny_patterns = patterns("Array of invalid regex patterns, or invalid questions from the 'user' role in chat.") },
          { allow_all_conversation_history = {
              description = "If true, will ignore all previous chat prompts from the conversation history.",
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
          { match_all_roles = {
              description = "If true, will match all roles in addition to 'user' role in conversation history.",
              type = "boolean",
              required = true,
              default = false,
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
    { at_least_one_of = { "config.allow_patterns", "config.deny_patterns" } },
    { conditional = {
        if_field = "config.match_all_roles", if_match = { eq = true },
        then_field = "config.allow_all_conversation_history", then_match = { eq = false },
    } },
  },
}
