-- rate-limiting, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/rate-limiting/schema.lua` (3.7+: `redis` record from
-- `kong.tools.redis.schema`, deprecated `redis_*` shorthands with their `deprecation`
-- tables, `sync_rate`, the config's custom_validator and its messages, the entity
-- checks); Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.9/RateLimiting.json`
-- and `3.12/RateLimiting.json` (no 3.10 file is published; those are the Enterprise
-- rendering, whose `limit_by` adds `consumer-group` and whose redis port defaults to 6379:
-- the open-source schema has neither).
--
-- `policy`: Kong offers `cluster` only when its node has a database. A control plane
-- (`role = control_plane`) and a DB-less data plane (`database = off`), which is what
-- every Konnect data plane is, both get `local` and `redis` only, so konnektd does too.
local typedefs = require "kong.db.schema.typedefs"
local redis_schema = require "kong.tools.redis.schema"

local SYNC_RATE_REALTIME = -1

local ORDERED_PERIODS = { "second", "minute", "hour", "day", "month", "year" }

local function check_config(config)
  for i, lower in ipairs(ORDERED_PERIODS) do
    local v1 = config[lower]
    if type(v1) == "number" then
      for j = i + 1, #ORDERED_PERIODS do
        local upper = ORDERED_PERIODS[j]
        local v2 = config[upper]
        if type(v2) == "number" and v2 < v1 then
          return nil, string.format("The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                                    upper, v2, lower, v1)
        end
      end
    end
  end
  if config.policy ~= "redis" and config.sync_rate ~= SYNC_RATE_REALTIME then
    return nil, "sync_rate can only be used with the redis policy"
  end
  if config.policy == "redis" and config.sync_rate ~= SYNC_RATE_REALTIME
     and config.sync_rate < 0.02 then
    return nil, "sync_rate must be greater than 0.02, or -1 to disable"
  end
  return true
end

local function limit(period)
  return {
    description = "The number of HTTP requests that can be made per " .. period .. ".",
    type = "number",
    gt = 0,
  }
end

-- A deprecated `redis_<name>` field, moved to `config.redis.<name>`.
local function redis_shorthand(name, def)
  def.translate_backwards = { "redis", name }
  def.deprecation = {
    replaced_with = { { path = { "redis", name } } },
    message = "rate-limiting: config.redis_" .. name
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
  name = "rate-limiting",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { second = limit("second") },
          { minute = limit("minute") },
          { hour = limit("hour") },
          { day = limit("day") },
          { month = limit("month") },
          { year = limit("year") },
          { limit_by = {
              description = "The entity that is used when aggregating the limits.",
              type = "string",
              default = "consumer",
              one_of = { "consumer", "credential", "ip", "service", "header", "path" },
          } },
          { header_name = typedefs.header_name },
          { path = typedefs.path },
          { policy = {
              description = "The rate-limiting policies to use for retrieving and incrementing the limits.",
              type = "string",
              default = "local",
              len_min = 0,
              one_of = { "local", "redis" },
          } },
          { fault_tolerant = {
              description = "A boolean value that determines if the requests should be proxied even if Kong has troubles connecting a third-party data store. If `true`, requests will be proxied anyway, effectively disabling the rate-limiting function until the data store is working again. If `false`, then the clients will see `500` errors.",
              type = "boolean",
              required = true,
              default = true,
          } },
          { redis = redis_schema.config_schema },
          { hide_client_headers = {
              description = "Optionally hide informative response headers.",
              type = "boolean",
              required = true,
              default = false,
          } },
          { error_code = {
              description = "Set a custom error code to return when the rate limit is exceeded.",
              type = "number",
              default = 429,
              gt = 0,
          } },
          { error_message = {
              description = "Set a custom error message to return when the rate limit is exceeded.",
              type = "string",
              default = "API rate limit exceeded",
          } },
          { sync_rate = {
              description = "How often to sync counter data to the central data store. A value of -1 results in synchronous behavior.",
              type = "number",
              required = true,
              default = SYNC_RATE_REALTIME,
          } },
        },
        custom_validator = check_config,
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
    { at_least_one_of = { "config.second", "config.minute", "config.hour", "config.day",
                          "config.month", "config.year" } },
    redis_required("host"),
    redis_required("port"),
    redis_required("timeout"),
    { conditional = {
      if_field = "config.limit_by", if_match = { eq = "header" },
      then_field = "config.header_name", then_match = { required = true },
    } },
    { conditional = {
      if_field = "config.limit_by", if_match = { eq = "path" },
      then_field = "config.path", then_match = { required = true },
    } },
  },
}
