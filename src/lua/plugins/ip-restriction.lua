-- Kong 3.10's ip-restriction plugin.
-- Sources: Kong/kong `kong/plugins/ip-restriction/schema.lua` (3.x: stream protocols,
-- `status`, `message`, descriptions); developer.konghq.com
-- `app/_schemas/gateway/plugins/3.9/IpRestriction.json` (no 3.10 file is published).
-- Unlike the other authentication plugins it may be scoped to a consumer.
local typedefs = require "kong.db.schema.typedefs"

local function addresses(description)
  return { description = description, type = "array", elements = typedefs.ip_or_cidr }
end

return {
  name = "ip-restriction",
  fields = {
    { protocols = typedefs.protocols { default = { "http", "https", "tcp", "tls", "grpc", "grpcs" } } },
    { config = {
        type = "record",
        fields = {
          { allow = addresses("List of IPs or CIDR ranges to allow. One of `config.allow` or `config.deny` must be specified.") },
          { deny = addresses("List of IPs or CIDR ranges to deny. One of `config.allow` or `config.deny` must be specified.") },
          { status = {
              description = "The HTTP status of the requests that will be rejected by the plugin.",
              type = "number", required = false,
          } },
          { message = {
              description = "The message to send as a response body to rejected requests.",
              type = "string", required = false,
          } },
        },
    } },
  },
  entity_checks = {
    { at_least_one_of = { "config.allow", "config.deny" } },
  },
}
