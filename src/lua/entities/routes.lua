-- Kong 3.10's `routes` entity, traditional_compatible router flavor (Konnect's default):
-- kong/db/schema/entities/routes.lua plus the per-protocol subschemas of
-- kong/db/schema/entities/routes_subschemas.lua. The expressions flavor (`expression`,
-- `priority`) is left out.
--
-- Kong selects a subschema by `subschema_key = "protocols"`: the first protocol of the
-- input's set that names an entry of `subschemas` (Schema `get_subschema`). A subschema's
-- fields replace the parent's fields of the same name (defaults included: gRPC routes
-- default `strip_path` to false), and its entity checks run after the parent's.
--
-- Not expressible here, so the Rust side does it (see NOTES.md): the regex check of `~`
-- paths, and the traditional_compatible check that compiles the route into an ATC
-- expression ("Router Expression failed validation: ...").
local typedefs = require "kong.db.schema.typedefs"

local null = ngx.null
local byte, char, find, gsub, match, sub, upper =
  string.byte, string.char, string.find, string.gsub, string.match, string.sub, string.upper

-- Addresses, as Kong's kong/tools/ip.lua `normalize_ip` classifies and checks them:
-- returns { type = "ipv4"|"ipv6"|"name", port = number|nil } or nil plus a message.
local address
do
  local function kind(name)
    local rest, colons = gsub(name, ":", "")
    if colons > 1 then return "ipv6" end
    if match(rest, "^[%d%.]+$") then return "ipv4" end
    return "name"
  end

  local function check_port(digits)
    local port = tonumber(digits)
    if port > 65535 then return nil end
    return port
  end

  local function ipv4(value)
    local octet = "(%d%d?%d?)"
    local dotted = "^" .. octet .. "%." .. octet .. "%." .. octet .. "%." .. octet
    local a, b, c, d, port
    if find(value, ":", 1, true) then
      a, b, c, d, port = match(value, dotted .. ":(%d+)$")
    else
      a, b, c, d = match(value, dotted .. "$")
    end
    if not a then return nil, "invalid ipv4 address: " .. value end
    for _, part in ipairs({ a, b, c, d }) do
      if tonumber(part) > 255 then return nil, "invalid ipv4 address: " .. value end
    end
    if port then
      port = check_port(port)
      if not port then return nil, "invalid port number" end
    end
    return true, port
  end

  local function ipv6(value)
    local bare, tail = match(value, "^(%b[])(.-)$")
    local port
    if bare then
      bare = sub(bare, 2, -2)
      if tail ~= "" then
        local digits = match(tail, "^:(%d-)$")
        if not digits then return nil, "invalid ipv6 address" end
        port = check_port(digits)
        if not port then return nil, "invalid port number" end
      end
    else
      bare = value
    end
    if sub(bare, 1, 1) == ":" then bare = "0" .. bare end
    if sub(bare, -1) == ":" then bare = bare .. "0" end
    if find(bare, "::", 1, true) then
      local _, colons = gsub(bare, ":", "")
      bare = gsub(bare, "::", ":" .. string.rep("0:", 8 - colons), 1)
    end
    local group = "(%x%x?%x?%x?)"
    local eight = "^" .. group .. string.rep(":" .. group, 7) .. "$"
    if not match(bare, eight) then return nil, "invalid ipv6 address: " .. value end
    return true, port
  end

  -- Split on every dot, keeping empty pieces (penlight's stringx.split with a plain
  -- delimiter, which also keeps a trailing empty piece).
  local function labels(name)
    local out, from = {}, 1
    while true do
      local at = find(name, ".", from, true)
      if not at then
        out[#out + 1] = sub(name, from)
        return out
      end
      out[#out + 1] = sub(name, from, at - 1)
      from = at + 1
    end
  end

  local function hostname(value)
    local name, port = value, nil
    local digits = match(value, ":(%d+)$")
    if digits then
      name = sub(value, 1, -(#digits + 2))
      port = check_port(digits)
      if not port then return nil, "invalid port number" end
    end
    if not match(name, "^[%d%a%-%.%_]+$") then return nil, "invalid hostname: " .. value end
    local parts = labels(name)
    for i, label in ipairs(parts) do
      if match(label, "%-$") or (label == "" and i ~= #parts) then
        return nil, "invalid hostname: " .. value
      end
    end
    return true, port
  end

  local checks = { ipv4 = ipv4, ipv6 = ipv6, name = hostname }

  address = function(value)
    local t = kind(value)
    local ok, port_or_err = checks[t](value)
    if not ok then return nil, port_or_err end
    return { type = t, port = port_or_err }
  end
end

-- `hosts` elements: the wildcard is swapped for letters, then the value must be a host
-- with an optional port (Kong's `validate_host_with_wildcards`).
local function validate_route_host(host)
  local parsed, err = address((gsub(host, "%*", "abc")))
  if not parsed then return nil, err end
  return true
end

-- `snis` elements under traditional_compatible: Kong's `typedefs.wildcard_host`.
local function validate_sni(host)
  local star = find(host, "*", 1, true)
  local candidate = host
  if star then
    if star ~= 1 and star ~= #host then
      return nil, "wildcard must be leftmost or rightmost character"
    end
    local replaced, stars = gsub(host, "%*", "wildcard")
    if stars > 1 then return nil, "only one wildcard must be specified" end
    candidate = replaced
  end
  local parsed, err = address(candidate)
  if err and err ~= "invalid port number" then return nil, "invalid value: " .. candidate end
  if parsed and parsed.type ~= "name" then return nil, "must not be an IP" end
  if err == "invalid port number" or type(parsed.port) == "number" then
    return nil, "must not have a port"
  end
  return true
end

-- Kong's kong/tools/uri.lua `normalize(path, true)`: percent-decode what is not reserved
-- (reserved escapes are upper-cased), drop dot segments, merge repeated slashes.
local normalize_path
do
  local reserved = {}
  for c in string.gmatch("!*'();:@&=+$,/?%#[]", ".") do reserved[byte(c)] = true end

  local function decode(escape_hex)
    local code = tonumber(escape_hex, 16)
    if reserved[code] then return upper("%" .. escape_hex) end
    return char(code)
  end

  normalize_path = function(path)
    if path == "" or path == "/" then return path end
    if find(path, "%", 1, true) then path = gsub(path, "%%(%x%x)", decode) end
    if not find(path, ".", 1, true) and not find(path, "//", 1, true) then return path end

    local kept, rest = {}, path
    while #rest > 0 do
      if rest == "/." then
        rest = "/"
      elseif rest == "/.." then
        rest = "/"
        kept[#kept] = nil
      elseif rest == "." or rest == ".." then
        rest = ""
      elseif sub(rest, 1, 3) == "../" then
        rest = sub(rest, 4)
      elseif sub(rest, 1, 2) == "./" then
        rest = sub(rest, 3)
      elseif sub(rest, 1, 3) == "/./" then
        rest = sub(rest, 3)
      elseif sub(rest, 1, 4) == "/../" then
        rest = sub(rest, 4)
        kept[#kept] = nil
      elseif sub(rest, 1, 2) == "//" then
        rest = sub(rest, 2)
      else
        local slash = find(rest, "/", 2, true)
        if slash then
          kept[#kept + 1] = sub(rest, 1, slash - 1)
          rest = sub(rest, slash)
        else
          kept[#kept + 1] = rest
          rest = ""
        end
      end
    end
    return table.concat(kept)
  end
end

-- Route paths (Kong's `validate_path_with_regexes`). Only a bad percent-escape stops
-- the check early; a fixed path must then be in normalized form. Characters outside
-- RFC 3986 are tolerated when normalizing leaves the path unchanged, as in Kong.
local function validate_route_path(path)
  if match(path, "^/[%w%.%-%_%~%/%%%:%@%!%$%&%'%(%)%*%+%,%;%=]*$") then
    local masked = gsub(path, "%%%x%x", "___")
    if find(masked, "%", 1, true) then
      return nil, "invalid url-encoded value: '" .. sub(masked, find(masked, "%%.?.?")) .. "'"
    end
  end

  if sub(path, 1, 1) ~= "~" then
    local normalized = normalize_path(path)
    if path ~= normalized then
      return nil, "non-normalized path, consider use '" .. normalized .. "' instead"
    end
    return true
  end

  -- A regex path ("~/..."): Kong compiles it with PCRE here
  -- ("invalid regex: '%s' (PCRE returned: %s)"); the Rust side does that.
  return true
end

local route_hosts = {
  type = "array",
  elements = {
    type = "string",
    match_all = {
      { pattern = "^[^*]*%*?[^*]*$", err = "invalid wildcard: must have at most one wildcard" },
    },
    match_any = {
      patterns = { "^%*%.", "%.%*$", "^[^*]*$" },
      err = "invalid wildcard: must be placed at leftmost or rightmost label",
    },
    custom_validator = validate_route_host,
  },
}

local route_paths = {
  type = "array",
  elements = {
    type = "string",
    match_any = {
      patterns = { "^/", "^~/" },
      err = "should start with: / (fixed path) or ~/ (regex path)",
    },
    match_none = {
      { pattern = "//", err = "must not have empty segments" },
    },
    custom_validator = validate_route_path,
  },
}

-- A field that must stay null under some protocols (Kong's `typedefs.no_*`): `eq = null`
-- rejects any value before its type is even looked at, with `err` as the message.
local function forbidden(field, err)
  local copy = {}
  for k, v in pairs(field) do copy[k] = v end
  copy.eq = null
  copy.err = err
  return copy
end

local http_subschema = {
  name = "http",
  fields = {
    { sources = forbidden(typedefs.sources, "cannot set 'sources' when 'protocols' is 'http' or 'https'") },
    { destinations = forbidden(typedefs.destinations, "cannot set 'destinations' when 'protocols' is 'http' or 'https'") },
  },
  entity_checks = {
    { conditional_at_least_one_of = {
      if_field = "protocols",
      if_match = { contains = "https" },
      then_at_least_one_of = { "methods", "hosts", "headers", "paths", "snis" },
      then_err = "must set one of %s when 'protocols' is 'https'",
      else_match = { contains = "http" },
      else_then_at_least_one_of = { "methods", "hosts", "headers", "paths" },
      else_then_err = "must set one of %s when 'protocols' is 'http'",
    } },
  },
}

local STREAM = "'tcp', 'tls', 'tls_passthrough' or 'udp'"
local stream_subschema = {
  name = "tcp",
  fields = {
    { methods = forbidden(typedefs.methods, "cannot set 'methods' when 'protocols' is " .. STREAM) },
    { hosts = forbidden(route_hosts, "cannot set 'hosts' when 'protocols' is " .. STREAM) },
    { paths = forbidden(route_paths, "cannot set 'paths' when 'protocols' is " .. STREAM) },
    { headers = forbidden(typedefs.headers, "cannot set 'headers' when 'protocols' is " .. STREAM) },
  },
  entity_checks = {
    { conditional_at_least_one_of = {
      if_field = "protocols",
      if_match = { elements = { type = "string", one_of = { "tcp", "tls", "udp" } } },
      then_at_least_one_of = { "sources", "destinations", "snis" },
      then_err = "must set one of %s when 'protocols' is 'tcp', 'tls' or 'udp'",
    } },
    { conditional_at_least_one_of = {
      if_field = "protocols",
      if_match = { elements = { type = "string", one_of = { "tls_passthrough" } } },
      then_at_least_one_of = { "snis" },
      then_err = "must set snis when 'protocols' is 'tls_passthrough'",
    } },
  },
}

local grpc_subschema = {
  name = "grpc",
  fields = {
    { strip_path = {
      type = "boolean", required = true, default = false, ne = true,
      err = "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'",
    } },
    { methods = forbidden(typedefs.methods, "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'") },
    { sources = forbidden(typedefs.sources, "cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'") },
    -- Kong builds this one from `no_sources` too; the two definitions are identical.
    { destinations = forbidden(typedefs.sources, "cannot set 'destinations' when 'protocols' is 'grpc' or 'grpcs'") },
  },
  entity_checks = {
    { conditional_at_least_one_of = {
      if_field = "protocols",
      if_match = { contains = "grpcs" },
      then_at_least_one_of = { "hosts", "headers", "paths", "snis" },
      then_err = "must set one of %s when 'protocols' is 'grpcs'",
      else_match = { contains = "grpc" },
      else_then_at_least_one_of = { "hosts", "headers", "paths" },
      else_then_err = "must set one of %s when 'protocols' is 'grpc'",
    } },
  },
}

return {
  name = "routes",
  primary_key = { "id" },
  endpoint_key = "name",
  workspaceable = true,
  subschema_key = "protocols",

  fields = {
    { id = typedefs.uuid },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { name = typedefs.utf8_name },
    { protocols = {
      type = "set",
      len_min = 1,
      required = true,
      elements = typedefs.protocol,
      mutually_exclusive_subsets = {
        { "http", "https" },
        { "tcp", "tls", "udp" },
        { "tls_passthrough" },
        { "grpc", "grpcs" },
      },
      default = { "http", "https" },
    } },
    { https_redirect_status_code = {
      type = "integer", one_of = { 426, 301, 302, 307, 308 }, default = 426, required = true,
    } },
    { strip_path = { type = "boolean", required = true, default = true } },
    { preserve_host = { type = "boolean", required = true, default = false } },
    { request_buffering = { type = "boolean", required = true, default = true } },
    { response_buffering = { type = "boolean", required = true, default = true } },
    { tags = typedefs.tags },
    { service = { type = "foreign", reference = "services" } },
    { snis = { type = "set", elements = { type = "string", custom_validator = validate_sni } } },
    { sources = typedefs.sources },
    { destinations = typedefs.destinations },
    { methods = typedefs.methods },
    { hosts = route_hosts },
    { paths = route_paths },
    { headers = typedefs.headers {
      keys = typedefs.header_name {
        match_none = {
          { pattern = "^[Hh][Oo][Ss][Tt]$",
            err = "cannot contain 'host' header, which must be specified in the 'hosts' attribute" },
        },
      },
    } },
    { regex_priority = { type = "integer", default = 0 } },
    { path_handling = { type = "string", default = "v0", one_of = { "v0", "v1" } } },
  },

  entity_checks = {
    { conditional = {
      if_field = "protocols",
      if_match = { elements = { type = "string", not_one_of = { "grpcs", "https", "tls", "tls_passthrough" } } },
      then_field = "snis",
      then_match = { len_eq = 0 },
      then_err = "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
    } },
    -- Kong only logs a deprecation warning for path_handling "v1"; it never fails.
    { custom_entity_check = {
      field_sources = { "path_handling" },
      fn = function() return true end,
    } },
  },

  subschemas = {
    http = http_subschema,
    https = http_subschema,
    tcp = stream_subschema,
    tls = stream_subschema,
    udp = stream_subschema,
    tls_passthrough = stream_subschema,
    grpc = grpc_subschema,
    grpcs = grpc_subschema,
  },
}
