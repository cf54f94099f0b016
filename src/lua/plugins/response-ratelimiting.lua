-- response-ratelimiting, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/response-ratelimiting/schema.lua` (3.7+: `limits` map
-- of period records with their custom_validator and at_least_one_of, `redis` record from
-- `kong.tools.redis.schema`, deprecated `redis_*` shorthands, the redis conditionals);
-- Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.9/ResponseRatelimiting.json`
-- (no 3.10 file is published; it is the Enterprise rendering, whose redis port defaults
-- to 6379: the open-source redis record has no default).
--
-- `policy`: `cluster` needs a node with a database; control planes and DB-less data
-- planes (every Konnect one) get `local` and `redis` only, as in rate-limiting.
local typedefs = require "kong.db.schema.typedefs"
local redis_schema = require "kong.tools.redis.schema"

local ORDERED_PERIODS = { "second", "minute", "hour", "day", "month", "year" }

local function check_periods_order(limit)
  for i, lower in ipairs(ORDERED_PERIODS) do
    local v1 = limit[lower]
    if type(v1) == "number" then
      for j = i + 1, #ORDERED_PERIODS do
        local upper = ORDERED_PERIODS[j]
        local v2 = limit[upper]
        if type(v2) == "number" and v2 < v1 then
          return nil, string.format("the limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                                    upper, v2, lower, v1)
        end
      end
    end
  end
  return true
end

local period_fields = {}
for _, period in ipairs(ORDERED_PERIODS) do
  period_fields[#period_fields + 1] = { [period] = { type = "number", gt = 0 } }
end

-- A deprecated `redis_<name>` field, moved to `config.redis.<name>`.
local function redis_shorthand(name, def)
  def.translate_backwards = { "redis", name }
  def.deprecation = {
    replaced_with = { { path = { "redis", name } } },
    message = "response-ratelimiting: config.redis_" .. name
      .. " is deprecated, please use config.redis." .. name .. " instead",
    removal_in_version = "4.0",
  }
  def.func = function(value)
    return { redis = { [name] = value } }
  end
  return { ["redis_" .. name] = def }
end

local function redis_required(field)
  return { conditional = {
    if_field = "config.policy", if_match = { eq = "redis" },
    then_field = "config.redis." .. field, then_match = { required = true },
  } }
end

return {
  name = "response-ratelimiting",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { header_name = {
              description = "The name of the response header used to increment the counters.",
              type = "string",
              default = "x-kong-limit",
          } },
          { limit_by = {
              description = "The entity that will be used when aggregating the limits: `consumer`, `credential`, `ip`. If the `consumer` or the `credential` cannot be determined, the system will always fallback to `ip`.",
              type = "string",
              default = "consumer",
              one_of = { "consumer", "credential", "ip" },
          } },
          { policy = {
              description = "The rate-limiting policies to use for retrieving and incrementing the limits.",
              type = "string",
              default = "local",
              one_of = { "local", "redis" },
          } },
          { fault_tolerant = {
              description = "A boolean value that determines if the requests should be proxied even if Kong has troubles connecting a third-party datastore. If `true`, requests will be proxied anyway, effectively disabling the rate-limiting function until the datastore is working again. If `false`, then the clients will see `500` errors.",
              type = "boolean",
              required = true,
              default = true,
          } },
          { redis = redis_schema.config_schema },
          { block_on_first_violation = {
              description = "A boolean value that determines if the requests should be blocked as soon as one limit is being exceeded. This will block requests that are supposed to consume other limits too.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { hide_client_headers = {
              description = "Optionally hide informative response headers.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { limits = {
              description = "A map that defines rate limits for the plugin.",
              type = "map",
              required = true,
              len_min = 1,
              keys = { type = "string" },
              values = {
                type = "record",
                required = true,
                fields = period_fields,
                custom_validator = check_periods_order,
                entity_checks = {
                  { at_least_one_of = ORDERED_PERIODS },
                },
              },
          } },
        },
        shorthand_fields = {
          redis_shorthand("host", { type = "string" }),
          redis_shorthand("port", { type = "integer" }),
          redis_shorthand("password", { type = "string", len_min = 0 }),
          redis_shorthand("username", { type = "string" }),
          redis_shorthand("ssl", { type = "boolean" }),
          redis_shorthand("ssl_verify", { type = "boolean" }),
          redis_shorthand("server_name", { type = "string" }),
          redis_shorthand("timeout", { type = "integer" }),
          redis_shorthand("database", { type = "integer" }),
        },
    } },
  },
  entity_checks = {
    redis_required("host"),
    redis_required("port"),
    redis_required("timeout"),
  },
}
