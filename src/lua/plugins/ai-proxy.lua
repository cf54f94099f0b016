-- Kong 3.10's ai-proxy plugin: the shared LLM record (`kong.llm.schemas`) plus the fields
-- only ai-proxy has.
--
-- Sources: Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/AiProxy.json`
-- (commit 571bf1d453ca980b9dc49374be1652d7e375eab0) for the fields, defaults, one_of lists
-- and descriptions; Kong/kong `kong/plugins/ai-proxy/schema.lua` (the 3.8 and 3.9 shapes in
-- Kong's history: `response_streaming`, `max_request_body_size` with `gt = 0`,
-- `model_name_header`) and Kong's 3.10 changelog (`llm_format`, "Added support for boto3
-- SDKs for Bedrock provider, and for Google GenAI SDKs for Gemini provider"). The
-- documentation lists `consumer` and `service` among ai-proxy's fields in 3.9 and 3.10, so
-- the plugin may be scoped to either (Kong 3.6's `no_consumer` / `no_service` are gone).
local typedefs = require "kong.db.schema.typedefs"
local llm = require "kong.llm.schemas"

local fields = {}
for i, field in ipairs(llm.fields) do fields[i] = field end

local only_ai_proxy = {
  { response_streaming = {
      description = "Whether to 'optionally allow', 'deny', or 'always' (force) the streaming of answers via server sent events.",
      type = "string",
      required = false,
      default = "allow",
      one_of = { "allow", "deny", "always" },
  } },
  { max_request_body_size = {
      description = "max allowed body size allowed to be introspected",
      type = "integer",
      default = 8 * 1024,
      gt = 0,
  } },
  { model_name_header = {
      description = "Display the model name selected in the X-Kong-LLM-Model response header",
      type = "boolean",
      default = true,
  } },
  { llm_format = {
      description = "LLM input and output format and schema to use",
      type = "string",
      required = false,
      default = "openai",
      one_of = { "openai", "bedrock", "gemini" },
  } },
}
for _, field in ipairs(only_ai_proxy) do fields[#fields + 1] = field end

return {
  name = "ai-proxy",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = fields,
        entity_checks = llm.entity_checks,
    } },
  },
}
