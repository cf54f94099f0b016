-- Kong 3.10's `services` entity (kong/db/schema/entities/services.lua), CE protocols.
local typedefs = require "kong.db.schema.typedefs"

local null = ngx.null
local gsub, match = string.gsub, string.match

local DEFAULT_PROTOCOL = "http"
local DEFAULT_PORT = 80

-- Timeouts of a service must be at least 1 ms (typedefs.timeout allows 0).
local function nonzero_timeout(default)
  return { type = "integer", between = { 1, math.pow(2, 31) - 2 }, default = default }
end

-- The parts of luasocket's `socket.url.parse` the `url` shorthand reads, in the same
-- order and with the same Lua patterns, so odd inputs split the way Kong splits them:
-- no "//" means no host; "?query", "#fragment" and ";params" never reach the path;
-- a trailing ":" leaves an empty port string.
local function parse_url(url)
  local parsed = {}
  url = gsub(url, "^([%w][%w%+%-%.]*)%:", function(s) parsed.scheme = s; return "" end)
  url = gsub(url, "^//([^/%?#]*)", function(a) parsed.authority = a; return "" end)
  url = gsub(url, "#(.*)$", function() return "" end)
  url = gsub(url, "%?(.*)", function() return "" end)
  url = gsub(url, "%;(.*)", function() return "" end)
  if url ~= "" then parsed.path = url end

  local authority = parsed.authority
  if not authority then return parsed end
  authority = gsub(authority, "^([^@]*)@", function() return "" end)
  authority = gsub(authority, ":([^:%]]*)$", function(p) parsed.port = p; return "" end)
  if authority ~= "" then
    parsed.host = match(authority, "^%[(.+)%]$") or authority
  end
  return parsed
end

-- `url` sets protocol, host, port and path at once; an absent part becomes null, so a
-- PATCH with `url` also clears a previously set path.
local function split_url(sugar_url)
  local parsed = parse_url(tostring(sugar_url))
  local port = tonumber(parsed.port)

  local protocol_from_port
  if port == 80 then
    protocol_from_port = "http"
  elseif port == 443 then
    protocol_from_port = "https"
  end
  local protocol = parsed.scheme or protocol_from_port or DEFAULT_PROTOCOL

  return {
    protocol = protocol,
    host = parsed.host or null,
    -- A port that is not a number is passed on as the string it was, so the
    -- `port` field reports it ("expected an integer").
    port = port
      or parsed.port
      or (protocol == "http" and 80)
      or (protocol == "https" and 443)
      or DEFAULT_PORT,
    path = parsed.path or null,
  }
end

return {
  name = "services",
  primary_key = { "id" },
  endpoint_key = "name",
  workspaceable = true,

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { name = typedefs.utf8_name },
    { retries = { type = "integer", default = 5, between = { 0, 32767 } } },
    { protocol = typedefs.protocol { required = true, default = DEFAULT_PROTOCOL } },
    { host = typedefs.host { required = true } },
    { port = typedefs.port { required = true, default = DEFAULT_PORT } },
    { path = typedefs.path },
    { connect_timeout = nonzero_timeout(60000) },
    { write_timeout = nonzero_timeout(60000) },
    { read_timeout = nonzero_timeout(60000) },
    { tags = typedefs.tags },
    { client_certificate = { type = "foreign", reference = "certificates" } },
    { tls_verify = { type = "boolean" } },
    { tls_verify_depth = { type = "integer", default = null, between = { 0, 64 } } },
    { ca_certificates = { type = "array", elements = { type = "string", uuid = true } } },
    { enabled = { type = "boolean", required = true, default = true } },
  },

  entity_checks = {
    { conditional = {
      if_field = "protocol",
      if_match = { one_of = { "tcp", "tls", "udp", "grpc", "grpcs" } },
      then_field = "path",
      then_match = { eq = null },
    } },
    { conditional = {
      if_field = "protocol",
      if_match = { not_one_of = { "https", "tls" } },
      then_field = "client_certificate",
      then_match = { eq = null },
    } },
    { conditional = {
      if_field = "protocol",
      if_match = { not_one_of = { "https", "tls" } },
      then_field = "tls_verify",
      then_match = { eq = null },
    } },
    { conditional = {
      if_field = "protocol",
      if_match = { not_one_of = { "https", "tls" } },
      then_field = "tls_verify_depth",
      then_match = { eq = null },
    } },
    { conditional = {
      if_field = "protocol",
      if_match = { not_one_of = { "https", "tls" } },
      then_field = "ca_certificates",
      then_match = { eq = null },
    } },
  },

  shorthand_fields = {
    { url = { type = "string", func = split_url } },
  },
}
