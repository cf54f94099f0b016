-- Kong 3.10's key-auth plugin.
-- Sources: Kong/kong `kong/plugins/key-auth/schema.lua` (3.x with descriptions and
-- `realm`, added in 3.7); developer.konghq.com `app/_schemas/gateway/plugins/3.9/KeyAuth.json`
-- (no 3.10 file is published; 3.9's fields and texts are the same). Konnect's
-- `identity_realms` and the `ws`/`wss` protocols of that page are Enterprise-only: a
-- Kong 3.10 open-source data plane refuses them, so they are left out.
local typedefs = require "kong.db.schema.typedefs"

local function flag(default, description)
  return { description = description, type = "boolean", required = true, default = default }
end

return {
  name = "key-auth",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { key_names = {
              description = "Describes an array of parameter names where the plugin will look for a key. The key names may only contain [a-z], [A-Z], [0-9], [_] underscore, and [-] hyphen.",
              type = "array", required = true, default = { "apikey" },
              elements = typedefs.header_name,
          } },
          { hide_credentials = flag(false, "An optional boolean value telling the plugin to show or hide the credential from the upstream service. If `true`, the plugin strips the credential from the request.") },
          { anonymous = {
              description = "An optional string (consumer UUID or username) value to use as an “anonymous” consumer if authentication fails. If empty (default null), the request will fail with an authentication failure `4xx`.",
              type = "string",
          } },
          { key_in_header = flag(true, "If enabled (default), the plugin reads the request header and tries to find the key in it.") },
          { key_in_query = flag(true, "If enabled (default), the plugin reads the query parameter in the request and tries to find the key in it.") },
          { key_in_body = flag(false, "If enabled, the plugin reads the request body. Supported MIME types: `application/www-form-urlencoded`, `application/json`, and `multipart/form-data`.") },
          { run_on_preflight = flag(true, "A boolean value that indicates whether the plugin should run (and try to authenticate) on `OPTIONS` preflight requests. If set to `false`, then `OPTIONS` requests are always allowed.") },
          { realm = {
              description = "When authentication fails the plugin sends `WWW-Authenticate` header with `realm` attribute value.",
              type = "string", required = false,
          } },
        },
    } },
  },
}
