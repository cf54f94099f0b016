-- Kong 3.10's ai-request-transformer plugin: asks an LLM (the shared `kong.llm.schemas`
-- record, under `llm`) to rewrite the request before it is proxied.
--
-- Sources: Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.10/AiRequestTransformer.json` (commit
-- 0963c02aa52991091057f4176b41b252d47e16be) for the fields, defaults and descriptions (the
-- proxy host and port descriptions are Kong's `typedefs.host` and `typedefs.port` ones;
-- 3.10 lists no `consumer`, so the plugin keeps `no_consumer`); Kong/kong
-- `kong/plugins/ai-request-transformer/schema.lua` (the version with the forward-proxy
-- fields, code index id 4030040952) for the required flags and the entity checks, whose
-- texts Kong's `spec/03-plugins/39-ai-request-transformer/00-config_spec.lua` asserts.
local typedefs = require "kong.db.schema.typedefs"
local llm = require "kong.llm.schemas"

local HOST = "A string representing a host name, such as example.com."
local PORT = "An integer representing a port number between 0 and 65535, inclusive."

return {
  name = "ai-request-transformer",
  fields = {
    { protocols = typedefs.protocols_http },
    { consumer = typedefs.no_consumer },
    { config = {
        type = "record",
        fields = {
          { prompt = {
              description = "Use this prompt to tune the LLM system/assistant message for the incoming proxy request (from the client), and what you are expecting in return.",
              type = "string",
              required = true,
          } },
          { transformation_extract_pattern = {
              description = "Defines the regular expression that must match to indicate a successful AI transformation at the request phase. The first match will be set as the outgoing body. If the AI service's response doesn't match this pattern, it is marked as a failure.",
              type = "string",
              required = false,
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
