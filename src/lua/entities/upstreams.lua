-- Kong 3.10's `upstreams` entity (kong/db/schema/entities/upstreams.lua). Kong builds the
-- healthchecks record from a table of defaults (`gen_fields`); it is written out here,
-- with the same types and defaults. `normalize_ip` comes from normalize_ip.lua,
-- prepended to this source.
local typedefs = require "kong.db.schema.typedefs"

local function validate_name(name)
  local p = normalize_ip(name)
  if not p then
    return nil, "Invalid name ('" .. name .. "'); must be a valid hostname"
  end
  if p.type ~= "name" then
    return nil, "Invalid name ('" .. name .. "'); no ip addresses allowed"
  end
  if p.port then
    return nil, "Invalid name ('" .. name .. "'); no port allowed"
  end
  return true
end

-- Kong's `utils.validate_cookie_name`.
local function validate_cookie_name(name)
  if string.match(name, "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then return true end
  return nil, "contains one or more invalid characters. ASCII alphanumerics and !#$%&'*+-.^_`|~ are allowed"
end

local HASH_ON = { "none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture" }

local function hash_on()
  return { type = "string", default = "none", one_of = HASH_ON }
end

local function simple_param()
  return { type = "string", len_min = 1 }
end

local function http_statuses(default)
  return { type = "array", default = default, elements = { type = "integer", between = { 100, 999 } } }
end

local function seconds(default)
  return { type = "number", default = default, between = { 0, 65535 } }
end

-- Counters the balancer keeps in one byte.
local function one_byte_integer(default)
  return { type = "integer", default = default, between = { 0, 255 } }
end

local function check_type()
  return { type = "string", default = "http", one_of = { "tcp", "http", "https", "grpc", "grpcs" } }
end

local ACTIVE_HEALTHY = { interval = 0, http_statuses = { 200, 302 }, successes = 0 }
local ACTIVE_UNHEALTHY = {
  interval = 0, http_statuses = { 429, 404, 500, 501, 502, 503, 504, 505 },
  tcp_failures = 0, timeouts = 0, http_failures = 0,
}
local PASSIVE_HEALTHY = {
  http_statuses = { 200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                    300, 301, 302, 303, 304, 305, 306, 307, 308 },
  successes = 0,
}
local PASSIVE_UNHEALTHY = { http_statuses = { 429, 500, 503 }, tcp_failures = 0, timeouts = 0, http_failures = 0 }

local ACTIVE = {
  type = "http", timeout = 1, concurrency = 10, http_path = "/", https_verify_certificate = true,
  healthy = ACTIVE_HEALTHY, unhealthy = ACTIVE_UNHEALTHY,
}
local PASSIVE = { type = "http", healthy = PASSIVE_HEALTHY, unhealthy = PASSIVE_UNHEALTHY }

local healthchecks = {
  type = "record",
  default = { active = ACTIVE, passive = PASSIVE, threshold = 0 },
  fields = {
    { active = {
      type = "record",
      default = ACTIVE,
      fields = {
        { type = check_type() },
        { timeout = seconds(1) },
        { concurrency = { type = "integer", default = 10, between = { 1, 2 ^ 31 } } },
        { http_path = typedefs.path { default = "/" } },
        { https_sni = typedefs.sni { required = false } },
        { https_verify_certificate = { type = "boolean", default = true } },
        { headers = typedefs.headers { required = false } },
        { healthy = {
          type = "record",
          default = ACTIVE_HEALTHY,
          fields = {
            { interval = seconds(0) },
            { http_statuses = http_statuses(ACTIVE_HEALTHY.http_statuses) },
            { successes = one_byte_integer(0) },
          },
        } },
        { unhealthy = {
          type = "record",
          default = ACTIVE_UNHEALTHY,
          fields = {
            { interval = seconds(0) },
            { http_statuses = http_statuses(ACTIVE_UNHEALTHY.http_statuses) },
            { tcp_failures = one_byte_integer(0) },
            { timeouts = one_byte_integer(0) },
            { http_failures = one_byte_integer(0) },
          },
        } },
      },
    } },
    { passive = {
      type = "record",
      default = PASSIVE,
      fields = {
        { type = check_type() },
        { healthy = {
          type = "record",
          default = PASSIVE_HEALTHY,
          fields = {
            { http_statuses = http_statuses(PASSIVE_HEALTHY.http_statuses) },
            { successes = one_byte_integer(0) },
          },
        } },
        { unhealthy = {
          type = "record",
          default = PASSIVE_UNHEALTHY,
          fields = {
            { http_statuses = http_statuses(PASSIVE_UNHEALTHY.http_statuses) },
            { tcp_failures = one_byte_integer(0) },
            { timeouts = one_byte_integer(0) },
            { http_failures = one_byte_integer(0) },
          },
        } },
      },
    } },
    { threshold = { type = "number", default = 0, between = { 0, 100 } } },
  },
}

local function when(field, value, then_field, then_match)
  return { conditional = {
    if_field = field, if_match = { match = "^" .. value .. "$" },
    then_field = then_field, then_match = then_match,
  } }
end

local REQUIRED = { required = true }

return {
  name = "upstreams",
  primary_key = { "id" },
  endpoint_key = "name",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { name = { type = "string", required = true, unique = true, custom_validator = validate_name } },
    { algorithm = {
      type = "string", default = "round-robin",
      one_of = { "consistent-hashing", "least-connections", "round-robin", "latency" },
    } },
    { hash_on = hash_on() },
    { hash_fallback = hash_on() },
    { hash_on_header = typedefs.header_name },
    { hash_fallback_header = typedefs.header_name },
    { hash_on_cookie = { type = "string", custom_validator = validate_cookie_name } },
    { hash_on_cookie_path = typedefs.path { default = "/" } },
    { hash_on_query_arg = simple_param() },
    { hash_fallback_query_arg = simple_param() },
    { hash_on_uri_capture = simple_param() },
    { hash_fallback_uri_capture = simple_param() },
    { slots = { type = "integer", default = 10000, between = { 10, 2 ^ 16 } } },
    { healthchecks = healthchecks },
    { tags = typedefs.tags },
    { host_header = typedefs.host_with_optional_port },
    { client_certificate = { type = "foreign", reference = "certificates" } },
    { use_srv_name = { type = "boolean", default = false } },
  },

  entity_checks = {
    -- the hash input a hash_on or hash_fallback names must be given
    when("hash_on", "header", "hash_on_header", REQUIRED),
    when("hash_fallback", "header", "hash_fallback_header", REQUIRED),
    when("hash_on", "cookie", "hash_on_cookie", REQUIRED),
    when("hash_fallback", "cookie", "hash_on_cookie", REQUIRED),
    -- no fallback without a hash, nor after a cookie
    when("hash_on", "none", "hash_fallback", { one_of = { "none" } }),
    when("hash_on", "cookie", "hash_fallback", { one_of = { "none" } }),
    -- the fallback differs from hash_on (headers, query args and captures may repeat)
    when("hash_on", "consumer", "hash_fallback",
      { one_of = { "none", "ip", "header", "cookie", "path", "query_arg", "uri_capture" } }),
    when("hash_on", "ip", "hash_fallback",
      { one_of = { "none", "consumer", "header", "cookie", "path", "query_arg", "uri_capture" } }),
    when("hash_on", "path", "hash_fallback",
      { one_of = { "none", "consumer", "ip", "header", "cookie", "query_arg", "uri_capture" } }),
    { distinct = { "hash_on_header", "hash_fallback_header" } },
    when("hash_on", "query_arg", "hash_on_query_arg", REQUIRED),
    when("hash_fallback", "query_arg", "hash_fallback_query_arg", REQUIRED),
    { distinct = { "hash_on_query_arg", "hash_fallback_query_arg" } },
    when("hash_on", "uri_capture", "hash_on_uri_capture", REQUIRED),
    when("hash_fallback", "uri_capture", "hash_fallback_uri_capture", REQUIRED),
    { distinct = { "hash_on_uri_capture", "hash_fallback_uri_capture" } },
  },
}
