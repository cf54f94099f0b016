-- Kong 3.10's ai-response-transformer plugin: asks an LLM (the shared `kong.llm.schemas`
-- record, under `llm`) to rewrite the upstream's response.
--
-- Sources: Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.10/AiResponseTransformer.json` (commit
-- f08d6b2591d15416e28dacf1dcb6f29431812d93) for the fields, defaults and descriptions
-- (Kong's own typo "adn" included; the proxy host and port descriptions are Kong's
-- `typedefs.host` and `typedefs.port` ones). Unlike the request transformer, the 3.10
-- documentation lists `consumer` for this plugin, so it may be scoped to a consumer.
-- Kong/kong `kong/plugins/ai-response-transformer/schema.lua` (the version with the
-- forward-proxy fields, code index id 3959109236) for the required flags and entity checks.
local typedefs = require "kong.db.schema.typedefs"
local llm = require "kong.llm.schemas"

local HOST = "A string representing a host name, such as example.com."
local PORT = "An integer representing a port number between 0 and 65535, inclusive."

return {
  name = "ai-response-transformer",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { prompt = {
              description = "Use this prompt to tune the LLM system/assistant message for the returning proxy response (from the upstream), adn what response format you are expecting.",
              type = "string",
              required = true,
          } },
          { transformation_extract_pattern = {
              description = "Defines the regular expression that must match to indicate a successful AI transformation at the response phase. The first match will be set as the returning body. If the AI service's response doesn't match this pattern, a failure is returned to the client.",
              type = "string",
              required = false,
          } },
          { parse_llm_response_json_instructions = {
              description = "Set true to read specific response format from the LLM, and accordingly set the status code / body / headers that proxy back to the client. You need to engineer your LLM prompt to return the correct format, see plugin docs 'Overview' page for usage instructions.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { http_timeout = {
              description = "Timeout in milliseconds for the AI upstream service.",
              type = "integer",
              required = true,
              default = 60000,
          } },
          { https_verify = {
              description = "Verify the TLS certificate of the AI upstream service.",
              type = "boolean",
              required = true,
              default = true,
          } },
          { max_request_body_size = {
              description = "max allowed body size allowed to be introspected",
              type = "integer",
              default = 8 * 1024,
              gt = 0,
          } },
          -- as in the forward-proxy plugin
          { http_proxy_host = typedefs.host { description = HOST } },
          { http_proxy_port = typedefs.port { description = PORT } },
          { https_proxy_host = typedefs.host { description = HOST } },
          { https_proxy_port = typedefs.port { description = PORT } },
          { llm = llm },
        },
    } },
  },
  entity_checks = {
    { conditional = {
        if_field = "config.llm.route_type",
        if_match = { not_one_of = { "llm/v1/chat" } },
        then_field = "config.llm.route_type",
        then_match = { eq = "llm/v1/chat" },
        then_err = "'config.llm.route_type' must be 'llm/v1/chat' for AI transformer plugins",
    } },
    { mutually_required = { "config.http_proxy_host", "config.http_proxy_port" } },
    { mutually_required = { "config.https_proxy_host", "config.https_proxy_port" } },
  },
}
