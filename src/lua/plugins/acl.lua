-- Kong 3.10's acl plugin.
-- Sources: Kong/kong `kong/plugins/acl/schema.lua` (3.x open source, with
-- `always_use_authenticated_groups` and descriptions); developer.konghq.com
-- `app/_schemas/gateway/plugins/3.9/Acl.json` (no 3.10 file is published). That page also
-- lists `include_consumer_groups`, an Enterprise-only field a Kong 3.10 open-source data
-- plane refuses, so it is left out.
local typedefs = require "kong.db.schema.typedefs"

local function groups(description)
  return { description = description, type = "array", elements = { type = "string" } }
end

return {
  name = "acl",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { allow = groups("Arbitrary group names that are allowed to consume the service or route. One of `config.allow` or `config.deny` must be specified.") },
          { deny = groups("Arbitrary group names that are not allowed to consume the service or route. One of `config.allow` or `config.deny` must be specified.") },
          { hide_groups_header = {
              description = "If enabled (`true`), prevents the `X-Consumer-Groups` header from being sent in the request to the upstream service.",
              type = "boolean", required = true, default = false,
          } },
          { always_use_authenticated_groups = {
              description = "If enabled (`true`), the authenticated groups will always be used even when an authenticated consumer already exists. If the authenticated groups don't exist, it will fallback to use the groups associated with the consumer. By default the authenticated groups will only be used when there is no consumer or the consumer is anonymous.",
              type = "boolean", required = true, default = false,
          } },
        },
    } },
  },
  entity_checks = {
    { only_one_of = { "config.allow", "config.deny" } },
    { at_least_one_of = { "config.allow", "config.deny" } },
  },
}
