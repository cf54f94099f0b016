-- request-termination, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/request-termination/schema.lua` (3.x: fields and the
-- config's custom_validator with its three messages); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.9/RequestTermination.json` (no 3.10 file is published).
local typedefs = require "kong.db.schema.typedefs"

-- A field counts as given when it is a non-empty string (absent and null do not).
local function given(value)
  return type(value) == "string" and #value > 0
end

-- The rules between the fields, in Kong's order and with Kong's texts.
local function check_response(config)
  if given(config.message) and (given(config.content_type) or given(config.body)) then
    return nil, "message cannot be used with content_type or body"
  end
  if given(config.content_type) and not given(config.body) then
    return nil, "content_type requires a body"
  end
  if config.echo == true and (given(config.content_type) or given(config.body)) then
    return nil, "echo cannot be used with content_type and body"
  end
  return true
end

return {
  name = "request-termination",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { status_code = {
              description = "The response code to send. Must be an integer between 100 and 599.",
              type = "integer",
              required = true,
              default = 503,
              between = { 100, 599 },
          } },
          { message = {
              description = "The message to send, if using the default response generator.",
              type = "string",
          } },
          { content_type = {
              description = "Content type of the raw response configured with `config.body`.",
              type = "string",
          } },
          { body = {
              description = "The raw response body to send. This is mutually exclusive with the `config.message` field.",
              type = "string",
          } },
          { echo = {
              description = "When set, the plugin will echo a copy of the request back to the client. The main usecase for this is debugging. It can be combined with `trigger` in order to debug requests on live systems without disturbing real traffic.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { trigger = typedefs.header_name },
        },
        custom_validator = check_response,
    } },
  },
}
