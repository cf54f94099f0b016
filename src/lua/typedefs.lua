-- konnektd's `kong.db.schema.typedefs`: the typedefs plugin schemas use, with Kong
-- 3.10's definitions and messages (kong/db/schema/typedefs.lua), written for Lua patterns.
-- Runs inside the schema sandbox; receives `setmetatable`, which uploads never see.
local setmetatable = ...
local null = ngx.null

-- A typedef is a field definition that can also be called with overrides:
-- `typedefs.port { default = 6379 }` is a copy of `typedefs.port` with a default.
local typedef_mt = {}
typedef_mt.__call = function(self, overrides)
  local copy = {}
  for k, v in pairs(self) do copy[k] = v end
  for k, v in pairs(overrides or {}) do copy[k] = v end
  return setmetatable(copy, typedef_mt)
end
local function define(def) return setmetatable(def, typedef_mt) end

local PROTOCOLS = { "grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp" }
local HTTP_PROTOCOLS = { "grpc", "grpcs", "http", "https" }

-- A vault reference (`{vault://...}`), as the validator recognizes it.
local function is_reference(v)
  return type(v) == "string" and string.sub(v, 1, 9) == "{vault://" and string.sub(v, -1) == "}"
end

local function is_ipv4(s)
  local a, b, c, d = string.match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, octet in ipairs({ a, b, c, d }) do
    if tonumber(octet) > 255 then return false end
  end
  return true
end

local function is_ipv6(s)
  if not string.find(s, ":", 1, true) or string.find(s, "[^%x:%.]") then return false end
  local _, colons = string.gsub(s, ":", ":")
  return colons >= 2 and colons <= 7
end

local function validate_ip(v)
  if is_ipv4(v) or is_ipv6(v) then return true end
  return nil, "not an ip address: " .. v
end

local function validate_ip_or_cidr(v)
  local ip, bits = string.match(v, "^([^/]+)/(%d+)$")
  local ok
  if ip then
    local n = tonumber(bits)
    ok = (is_ipv4(ip) and n <= 32) or (is_ipv6(ip) and n <= 128)
  else
    ok = is_ipv4(v) or is_ipv6(v)
  end
  if ok then return true end
  return nil, "invalid ip or cidr range: '" .. v .. "'"
end

-- Kong's `is_valid_ip_or_cidr_v4`: a bare IPv4 address passes too.
local function validate_cidr_v4(v)
  local ip, bits = string.match(v, "^([^/]+)/(%d+)$")
  if (ip and is_ipv4(ip) and tonumber(bits) <= 32) or is_ipv4(v) then return true end
  return nil, "invalid ipv4 cidr range: '" .. v .. "'"
end

local function validate_host(v)
  if is_ipv4(v) or is_ipv6(v) then return true end
  local name, port = string.match(v, "^([^:]+):(%d+)$")
  if name then return nil, "must not have a port" end
  if string.match(v, "^[%w%-_%.]+$") and not string.find(v, "..", 1, true) then return true end
  return nil, "invalid value: " .. v
end

local function validate_host_with_optional_port(v)
  local name, port = string.match(v, "^([^:]+):(%d+)$")
  if name and tonumber(port) <= 65535 then return validate_host(name) end
  return validate_host(v)
end

-- Kong's `validate_sni`: a name, never an IP address, without a port.
local function validate_sni(v)
  if is_ipv4(v) or is_ipv6(v) then return nil, "must not be an IP" end
  return validate_host(v)
end

-- Kong's `validate_wildcard_host`: one `*`, first or last, then as an SNI.
local function validate_wildcard_host(v)
  local at = string.find(v, "*", 1, true)
  if at then
    if at ~= 1 and at ~= #v then
      return nil, "wildcard must be leftmost or rightmost character"
    end
    local replaced, stars = string.gsub(v, "%*", "wildcard")
    if stars > 1 then return nil, "only one wildcard must be specified" end
    v = replaced
  end
  return validate_sni(v)
end

-- Kong's `validate_host_with_wildcards` (route hosts): the wildcard stands for letters.
local function validate_host_with_wildcards(v)
  return validate_host_with_optional_port((string.gsub(v, "%*", "abc")))
end

local function validate_url(v)
  local scheme, rest = string.match(v, "^(%a[%w+%.%-]*)://(.*)$")
  if not scheme then return nil, "missing scheme in url" end
  local host = string.match(rest, "^([^/?#]*)")
  host = string.gsub(host, "^.*@", "")
  if host == "" then return nil, "missing host in url" end
  return true
end

local function validate_path(v)
  if string.find(v, "[^%w%-%._~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]") then
    return nil, "invalid path: '" .. v .. "' (characters outside of the reserved list of RFC 3986 found)"
  end
  for escape in string.gmatch(v, "%%..?") do
    if not string.match(escape, "^%%%x%x$") then
      return nil, "invalid url-encoded value: '" .. escape .. "'"
    end
  end
  return true
end

local function validate_header_name(v)
  if string.match(v, "^[%w%-_]+$") then return true end
  return nil, "bad header name '" .. v .. "', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
end

local function validate_name(v)
  if string.match(v, "^[%w%.%-_~]+$") then return true end
  return nil, "invalid value '" .. v .. "': it must only contain alphanumeric and '., -, _, ~' characters"
end

local function validate_utf8_name(v)
  if not string.find(v, "[%z\1-\127]") or not string.find(v, "[^%w%.%-_~\128-\255]") then return true end
  return nil, "invalid value '" .. v .. "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
end

local function validate_tag(v)
  if not string.find(v, "[%c,/]") then return true end
  return nil, "invalid tag '" .. v .. "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
end

local function validate_semantic_version(v)
  if string.match(v, "^%d+$") or string.match(v, "^%d+%.%d+$") or string.match(v, "^%d+%.%d+%.%d+") then
    return true
  end
  return nil, "invalid version number: must be in format of X.Y.Z"
end

local typedefs = {}

typedefs.http_method = define { type = "string", match = "^%u+$" }
typedefs.protocol = define { type = "string", one_of = PROTOCOLS }
typedefs.protocols = define {
  type = "set", required = true, default = HTTP_PROTOCOLS, elements = typedefs.protocol,
}
typedefs.protocols_http = define {
  type = "set", required = true, default = HTTP_PROTOCOLS,
  elements = { type = "string", one_of = HTTP_PROTOCOLS },
}
typedefs.host = define { type = "string", custom_validator = validate_host }
typedefs.host_with_optional_port = define {
  type = "string", custom_validator = validate_host_with_optional_port,
}
typedefs.wildcard_host = define { type = "string", custom_validator = validate_wildcard_host }
typedefs.sni = define { type = "string", custom_validator = validate_sni }
typedefs.ip = define { type = "string", custom_validator = validate_ip }
typedefs.ip_or_cidr = define { type = "string", custom_validator = validate_ip_or_cidr }
typedefs.cidr_v4 = define { type = "string", custom_validator = validate_cidr_v4 }
typedefs.port = define { type = "integer", between = { 0, 65535 } }
typedefs.path = define {
  type = "string", starts_with = "/",
  match_none = { { pattern = "//", err = "must not have empty segments" } },
  custom_validator = validate_path,
}
typedefs.url = define { type = "string", custom_validator = validate_url }
typedefs.timeout = define { type = "integer", between = { 0, math.pow(2, 31) - 2 } }
typedefs.uuid = define { type = "string", uuid = true, auto = true }
typedefs.auto_timestamp_s = define { type = "integer", timestamp = true, auto = true }
typedefs.auto_timestamp_ms = define { type = "number", timestamp = true, auto = true }
typedefs.no_route = define { type = "foreign", reference = "routes", eq = null }
typedefs.no_service = define { type = "foreign", reference = "services", eq = null }
typedefs.no_consumer = define { type = "foreign", reference = "consumers", eq = null }
typedefs.name = define { type = "string", unique = true, custom_validator = validate_name }
typedefs.utf8_name = define { type = "string", unique = true, custom_validator = validate_utf8_name }
typedefs.header_name = define { type = "string", custom_validator = validate_header_name }
typedefs.tag = define { type = "string", required = true, custom_validator = validate_tag }
typedefs.tags = define { type = "set", elements = typedefs.tag }
typedefs.semantic_version = define { type = "string", custom_validator = validate_semantic_version }
typedefs.lua_code = define { type = "map", keys = { type = "string", len_min = 1 }, values = { type = "string", len_min = 1 } }
typedefs.queue = define {
  type = "record",
  fields = {
    { max_batch_size = { type = "integer", default = 1, between = { 1, 1000000 } } },
    { max_coalescing_delay = { type = "number", default = 1, between = { 0, 3600 } } },
    { max_entries = { type = "integer", default = 10000, between = { 1, 1000000 } } },
    { max_bytes = { type = "integer", default = null } },
    { max_retry_time = { type = "number", default = 60 } },
    { initial_retry_delay = { type = "number", default = 0.01, between = { 0.001, 1000000 } } },
    { max_retry_delay = { type = "number", default = 60, between = { 0.001, 1000000 } } },
    { concurrency_limit = { type = "integer", default = 1, one_of = { -1, 1 } } },
  },
}

-- PEM checks are shallow: the CP has no TLS library in the sandbox, and data planes
-- parse the PEM themselves.
local function pem_of(kind, label)
  return function(v)
    if string.find(v, "-----BEGIN [%u ]*" .. label .. "-----") then return true end
    return nil, "invalid " .. kind .. ": not a PEM " .. kind
  end
end

local function validate_cookie_name(v)
  if string.match(v, "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then return true end
  return nil, "contains one or more invalid characters. ASCII alphanumerics and !#$%&'*+-.^_`|~ are allowed"
end

typedefs.certificate = define { type = "string", custom_validator = pem_of("certificate", "CERTIFICATE") }
typedefs.key = define { type = "string", custom_validator = pem_of("key", "KEY") }
typedefs.cookie_name = define { type = "string", custom_validator = validate_cookie_name }

-- Kong's `pem` and `jwk` records. Their key checks need a crypto library the sandbox does
-- not have: a PEM value must look like a PEM block of its kind (references pass), and a
-- JWK's key material is left to the data plane.
local function validate_pem_keys(pair)
  local function looks_like(v, label)
    return v == nil or v == null or is_reference(v)
      or string.find(v, "-----BEGIN [%u ]*" .. label .. "-----") ~= nil
  end
  if not looks_like(pair.public_key, "PUBLIC KEY") then return nil, "could not load public key" end
  if not looks_like(pair.private_key, "PRIVATE KEY") then return nil, "could not load private key" end
  return true
end

typedefs.pem = define {
  type = "record",
  required = false,
  fields = {
    { private_key = { type = "string", required = false, referenceable = true, encrypted = true } },
    { public_key = { type = "string", required = false, referenceable = true } },
  },
  entity_checks = { { at_least_one_of = { "private_key", "public_key" } } },
  custom_validator = validate_pem_keys,
}

-- Kong 3.7+'s tracing propagation record (kong/observability/tracing/propagation/schema.lua).
-- Kong builds its lists with `pairs()`, so its messages list them in no fixed order; here
-- they keep the order Kong's FORMATS table is written in.
local FORMATS = { "w3c", "b3", "b3-single", "jaeger", "ot", "datadog", "aws", "gcp" }
local EXTRACTORS = { "w3c", "b3", "jaeger", "ot", "datadog", "aws", "gcp" }
local INJECTORS = { "preserve" }
for _, format in ipairs(FORMATS) do INJECTORS[#INJECTORS + 1] = format end
typedefs.propagation = define {
  type = "record",
  fields = {
    { extract = { type = "array", elements = { type = "string", one_of = EXTRACTORS } } },
    { clear = { type = "array", elements = { type = "string", custom_validator = validate_header_name } } },
    { inject = { type = "array", elements = { type = "string", one_of = INJECTORS } } },
    { default_format = { type = "string", required = true, one_of = FORMATS } },
  },
}

local jwk_fields = {}
for _, name in ipairs({ "issuer", "kty", "use", "key_ops", "alg", "kid", "x5u", "x5c", "x5t",
                        "x5t#S256", "k", "x", "y", "crv", "n", "e", "d", "p", "q", "dp", "dq",
                        "qi", "oth", "r", "t" }) do
  local def = { type = "string", required = false }
  if name == "key_ops" or name == "x5c" then
    def = { type = "array", required = false, elements = { type = "string", required = false } }
  elseif name == "kid" then
    def = { type = "string", required = true }
  end
  jwk_fields[#jwk_fields + 1] = { [name] = def }
end
typedefs.jwk = define { type = "record", required = false, fields = jwk_fields }
typedefs.methods = define { type = "set", elements = typedefs.http_method }
typedefs.hosts = define {
  type = "array",
  elements = {
    type = "string",
    match_all = { { pattern = "^[^*]*%*?[^*]*$", err = "invalid wildcard: must have at most one wildcard" } },
    match_any = {
      patterns = { "^%*%.", "%.%*$", "^[^*]*$" },
      err = "invalid wildcard: must be placed at leftmost or rightmost label",
    },
    custom_validator = validate_host_with_wildcards,
  },
}
typedefs.router_path = define { type = "string", starts_with = "/", custom_validator = validate_path }
typedefs.router_paths = define { type = "array", elements = typedefs.router_path }
typedefs.headers = define {
  type = "map", keys = typedefs.header_name, values = { type = "array", elements = { type = "string" } },
}
local endpoint = {
  type = "record",
  fields = { { ip = typedefs.ip_or_cidr }, { port = typedefs.port } },
  entity_checks = { { at_least_one_of = { "ip", "port" } } },
}
typedefs.sources = define { type = "set", elements = endpoint }
typedefs.destinations = define { type = "set", elements = endpoint }
typedefs.ttl = define { type = "number", between = { 0, 100000000 } }
typedefs.redis_host = typedefs.host
typedefs.redis_server_name = typedefs.sni

-- Kong's deprecated alias, and its "must stay null" variants of the route fields
-- (routes_subschemas.lua uses them with an `err` override).
typedefs.cidr = typedefs.cidr_v4
typedefs.no_sources = typedefs.sources { eq = null }
typedefs.no_destinations = typedefs.destinations { eq = null }
typedefs.no_methods = typedefs.methods { eq = null }
typedefs.no_hosts = typedefs.hosts { eq = null }
typedefs.no_paths = typedefs.router_paths { eq = null }
typedefs.no_headers = typedefs.headers { eq = null }

-- Kong raises on an unknown typedef; reading one here is the same mistake.
return setmetatable(typedefs, {
  __index = function(_, name)
    error("schema typedef error: definition " .. tostring(name) .. " does not exist", 2)
  end,
  __newindex = function(_, name)
    error("Cannot modify typedefs." .. tostring(name) .. ". Protected by the sandbox.", 2)
  end,
  __metatable = false,
})
