-- konnektd's `kong.db.schema.typedefs`: the typedefs plugin schemas use, with Kong
-- 3.10's definitions and messages (kong/db/schema/typedefs.lua), written for Lua patterns.
-- Runs inside the schema sandbox; receives `setmetatable`, which uploads never see, and
-- the compile-only check behind `lua_code`.
local setmetatable, check_syntax = ...
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

local byte, sub, find, match, gsub = string.byte, string.sub, string.find, string.match, string.gsub

-- glibc's inet_pton(AF_INET), which resty.ipmatcher's `parse_ipv4` calls (Kong's
-- kong/tools/ip.lua `is_valid_ip*`): exactly four decimal octets of at most 255, none
-- with a leading zero ("01.2.3.4" is refused).
local function inet_pton4(s)
  local octets, value, seen = 0, 0, false
  for i = 1, #s do
    local c = byte(s, i)
    if c >= 48 and c <= 57 then
      if seen and value == 0 then return false end
      value = value * 10 + (c - 48)
      if value > 255 then return false end
      if not seen then
        octets = octets + 1
        if octets > 4 then return false end
        seen = true
      end
    elseif c == 46 and seen then
      if octets == 4 then return false end
      value, seen = 0, false
    else
      return false
    end
  end
  return octets == 4
end

local function is_hex_digit(c)
  return (c >= 48 and c <= 57) or (c >= 97 and c <= 102) or (c >= 65 and c <= 70)
end

-- glibc's inet_pton(AF_INET6): eight groups of at most four hex digits, one `::` standing
-- for at least one zero group, an IPv4 address in place of the last two groups.
local function inet_pton6(s)
  local n = #s
  if n == 0 then return false end
  local i = 1
  if byte(s, 1) == 58 then
    if byte(s, 2) ~= 58 then return false end
    i = 2
  end
  local groups, gap, digits, token = 0, false, 0, i
  while i <= n do
    local c = byte(s, i)
    i = i + 1
    if is_hex_digit(c) then
      if digits == 4 then return false end
      digits = digits + 1
    elseif c == 58 then
      token = i
      if digits == 0 then
        if gap then return false end
        gap = true
      else
        if i > n or groups == 8 then return false end
        groups, digits = groups + 1, 0
      end
    elseif c == 46 and groups <= 6 and inet_pton4(sub(s, token)) then
      groups, digits = groups + 2, 0
      break
    else
      return false
    end
  end
  if digits > 0 then
    if groups == 8 then return false end
    groups = groups + 1
  end
  if gap then return groups < 8 end
  return groups == 8
end

-- resty.ipmatcher's `parse_ipv6`: brackets around the address are dropped ("[::1]").
local function is_ipv6(s)
  if byte(s, 1) == 91 and byte(s, -1) == 93 then s = sub(s, 2, -2) end
  return inet_pton6(s)
end

local function is_ip(s) return inet_pton4(s) or is_ipv6(s) end

-- kong/tools/ip.lua `split_cidr`: the first `/` from the third byte on; the prefix is
-- looked up among tostring(0..max), so "08" or "+8" is no prefix.
local function cidr_address(s, max_bits)
  local slash = find(s, "/", 3, true)
  if not slash then return nil end
  local bits = sub(s, slash + 1)
  if bits ~= "0" and not match(bits, "^[1-9]%d?%d?$") then return nil end
  if tonumber(bits) > max_bits then return nil end
  return sub(s, 1, slash - 1)
end

local function is_cidr_v4(s)
  local address = cidr_address(s, 32)
  return address ~= nil and inet_pton4(address)
end

local function is_cidr_v6(s)
  local address = cidr_address(s, 128)
  return address ~= nil and is_ipv6(address)
end

local function validate_ip(v)
  if is_ip(v) then return true end
  return nil, "not an ip address: " .. v
end

-- Kong's `is_valid_ip_or_cidr`.
local function validate_ip_or_cidr(v)
  if is_ip(v) or is_cidr_v4(v) or is_cidr_v6(v) then return true end
  return nil, "invalid ip or cidr range: '" .. v .. "'"
end

-- Kong's `is_valid_ip_or_cidr_v4`: a bare IPv4 address passes too.
local function validate_cidr_v4(v)
  if inet_pton4(v) or is_cidr_v4(v) then return true end
  return nil, "invalid ipv4 cidr range: '" .. v .. "'"
end

-- kong/tools/ip.lua `normalize_ip`, which Kong's host typedefs call: the type is told by
-- exclusion (two colons or more: ipv6; digits and dots: ipv4; else a name), then that
-- type's parser answers the address and its port, or nil and Kong's message.
local function normalize_ipv4(address)
  local a, b, c, d, port
  if find(address, ":", 1, true) then
    a, b, c, d, port = match(address, "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?):(%d+)$")
  else
    a, b, c, d = match(address, "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  end
  if not a or tonumber(a) > 255 or tonumber(b) > 255 or tonumber(c) > 255 or tonumber(d) > 255 then
    return nil, "invalid ipv4 address: " .. address
  end
  if port then
    port = tonumber(port)
    if port > 65535 then return nil, "invalid port number" end
  end
  return address, port
end

local IPV6_GROUPS = "^" .. string.rep("%x%x?%x?%x?:", 7) .. "%x%x?%x?%x?$"

local function normalize_ipv6(address)
  local check, port = match(address, "^(%b[])(.-)$")
  if port == "" then port = nil end
  if check then
    check = sub(check, 2, -2)
    if port then
      port = match(port, "^:(%d-)$")
      -- Kong raises on "[::1]:" (a port of no digits); refused here all the same.
      if not port or port == "" then return nil, "invalid ipv6 address" end
      port = tonumber(port)
      if port > 65535 then return nil, "invalid port number" end
    end
  else
    check, port = address, nil
  end
  if sub(check, 1, 1) == ":" then check = "0" .. check end
  if sub(check, -1) == ":" then check = check .. "0" end
  if find(check, "::", 1, true) then
    local _, colons = gsub(check, ":", "")
    check = gsub(check, "::", ":" .. string.rep("0:", 8 - colons), 1)
  end
  if not match(check, IPV6_GROUPS) then return nil, "invalid ipv6 address: " .. address end
  return check, port
end

-- Kong's `check_hostname`: letters, digits, `-`, `.` and `_`, an optional `:port`; no
-- label ends with `-` and only the last one may be empty (penlight's `split` on ".").
local function check_hostname(address)
  local name = address
  local port = match(address, ":(%d+)$")
  if port then
    name = sub(name, 1, -(#port + 2))
    port = tonumber(port)
    if port > 65535 then return nil, "invalid port number" end
  end
  if not match(name, "^[%d%a%-%.%_]+$") or find(name, "-.", 1, true) or sub(name, -1) == "-"
     or find(name, "..", 1, true) or sub(name, 1, 1) == "." then
    return nil, "invalid hostname: " .. address
  end
  return name, port
end

local function normalize_ip(address)
  local remainder, colons = gsub(address, ":", "")
  local kind = "name"
  if colons > 1 then
    kind = "ipv6"
  elseif match(remainder, "^[%d%.]+$") then
    kind = "ipv4"
  end
  local parse = (kind == "ipv6" and normalize_ipv6) or (kind == "ipv4" and normalize_ipv4) or check_hostname
  local host, port = parse(address)
  if not host then return nil, port end
  return { type = kind, host = host, port = port }
end

local function validate_host(v)
  local res, err_or_port = normalize_ip(v)
  if type(err_or_port) == "string" and err_or_port ~= "invalid port number" then
    return nil, "invalid value: " .. v
  end
  if err_or_port == "invalid port number" or type(res.port) == "number" then
    return nil, "must not have a port"
  end
  return true
end

local function validate_host_with_optional_port(v)
  local res, err = normalize_ip(v)
  if res then return true end
  return nil, err
end

-- Kong's `validate_sni`: a name, never an IP address, without a port.
local function validate_sni(v)
  local res, err_or_port = normalize_ip(v)
  if type(err_or_port) == "string" and err_or_port ~= "invalid port number" then
    return nil, "invalid value: " .. v
  end
  if res and res.type ~= "name" then return nil, "must not be an IP" end
  if err_or_port == "invalid port number" or type(res.port) == "number" then
    return nil, "must not have a port"
  end
  return true
end

-- Kong's `validate_wildcard_host`: one `*`, first or last, then as an SNI.
local function validate_wildcard_host(v)
  local at = find(v, "*", 1, true)
  if at then
    if at ~= 1 and at ~= #v then
      return nil, "wildcard must be leftmost or rightmost character"
    end
    local replaced, stars = gsub(v, "%*", "wildcard")
    if stars > 1 then return nil, "only one wildcard must be specified" end
    v = replaced
  end
  return validate_sni(v)
end

-- Kong's `validate_host_with_wildcards` (route hosts): the wildcard stands for letters.
local function validate_host_with_wildcards(v)
  return validate_host_with_optional_port((gsub(v, "%*", "abc")))
end

-- Kong's `validate_url`: luasocket's `url.parse` (3.1.0: scheme `^[%w][%w+-.]*:`, an
-- authority only after `//`, userinfo and port cut from it, `[v6]` unwrapped), then the
-- host is checked before the scheme ("http:/x" and "example.com" lack a host).
local function validate_url(v)
  local scheme
  local rest = gsub(v, "^([%w][%w%+%-%.]*)%:", function(s) scheme = s; return "" end)
  local host
  local authority = match(rest, "^//([^/%?#]*)")
  if authority then
    authority = gsub(authority, "^([^@]*)@", "")
    authority = gsub(authority, ":([^:%]]*)$", "")
    if authority ~= "" then host = authority end
  end
  if not host then return nil, "missing host in url" end
  if not scheme then return nil, "missing scheme in url" end
  return true
end

-- Kong's `validate_path`: unreserved characters, sub-delims, `:`, `@`, `/` and `%` only
-- (no `?`, `#`, `[` or `]`), then every `%` must start an escape; Kong quotes what follows
-- the first bad `%` once the good escapes are blanked out.
local function validate_path(v)
  if not match(v, "^/[%w%.%-%_%~%/%%%:%@%!%$%&%'%(%)%*%+%,%;%=]*$") then
    return nil, "invalid path: '" .. v .. "' (characters outside of the reserved list of RFC 3986 found)"
  end
  local raw = gsub(v, "%%%x%x", "___")
  local at = find(raw, "%", 1, true)
  if at then
    return nil, "invalid url-encoded value: '" .. match(raw, "^%%.?.?", at) .. "'"
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

local typedefs = {}

typedefs.http_method = define {
  type = "string", match = "^%u+$",
  description = "A string representing an HTTP method, such as GET, POST, PUT, or DELETE. The string must contain only uppercase letters.",
}
typedefs.protocol = define {
  type = "string", one_of = PROTOCOLS,
  description = "A string representing a protocol, such as HTTP or HTTPS.",
}
typedefs.protocols = define {
  type = "set", required = true, default = HTTP_PROTOCOLS, elements = typedefs.protocol,
  description = "A set of strings representing protocols.",
}
typedefs.protocols_http = define {
  type = "set", required = true, default = HTTP_PROTOCOLS,
  elements = { type = "string", one_of = HTTP_PROTOCOLS },
  description = "A set of strings representing HTTP protocols.",
}
typedefs.host = define {
  type = "string", custom_validator = validate_host,
  description = "A string representing a host name, such as example.com.",
}
typedefs.host_with_optional_port = define {
  type = "string", custom_validator = validate_host_with_optional_port,
  description = "A string representing a host name with an optional port number, such as example.com or example.com:8080.",
}
typedefs.wildcard_host = define {
  type = "string", custom_validator = validate_wildcard_host,
  description = "A string representing a wildcard host name, such as *.example.com.",
}
typedefs.sni = define {
  type = "string", custom_validator = validate_sni,
  description = "A string representing an SNI (server name indication) value for TLS.",
}
typedefs.ip = define {
  type = "string", custom_validator = validate_ip,
  description = "A string representing an IP address, such as 192.168.1.1.",
}
typedefs.ip_or_cidr = define {
  type = "string", custom_validator = validate_ip_or_cidr,
  description = "A string representing an IP address or CIDR block, such as 192.168.1.1 or 192.168.0.0/16.",
}
typedefs.cidr_v4 = define {
  type = "string", custom_validator = validate_cidr_v4,
  description = "A string representing a CIDR block for IPv4 addresses, such as 192.168.0.0/16.",
}
typedefs.port = define {
  type = "integer", between = { 0, 65535 },
  description = "An integer representing a port number between 0 and 65535, inclusive.",
}
typedefs.path = define {
  type = "string", starts_with = "/",
  match_none = { { pattern = "//", err = "must not have empty segments" } },
  custom_validator = validate_path,
  description = "A string representing a URL path, such as /path/to/resource. Must start with a forward slash (/) and must not contain empty segments (i.e., two consecutive forward slashes).",
}
typedefs.url = define {
  type = "string", custom_validator = validate_url,
  description = "A string representing a URL, such as https://example.com/path/to/resource?q=search.",
}
typedefs.timeout = define {
  type = "integer", between = { 0, math.pow(2, 31) - 2 },
  description = "An integer representing a timeout in milliseconds. Must be between 0 and 2^31-2.",
}
typedefs.uuid = define {
  type = "string", uuid = true, auto = true,
  description = "A string representing a UUID (universally unique identifier).",
}
typedefs.auto_timestamp_s = define {
  type = "integer", timestamp = true, auto = true,
  description = "An integer representing an automatic Unix timestamp in seconds.",
}
typedefs.auto_timestamp_ms = define {
  type = "number", timestamp = true, auto = true,
  description = "A number representing an automatic Unix timestamp in milliseconds.",
}
typedefs.no_route = define {
  type = "foreign", reference = "routes", eq = null,
  description = "A reference to the 'routes' table with a null value allowed.",
}
typedefs.no_service = define {
  type = "foreign", reference = "services", eq = null,
  description = "A reference to the 'services' table with a null value allowed.",
}
typedefs.no_consumer = define {
  type = "foreign", reference = "consumers", eq = null,
  description = "Custom type for representing a foreign key with a null value allowed.",
}
typedefs.name = define {
  type = "string", unique = true, custom_validator = validate_name,
  description = "A unique string representing a name.",
}
typedefs.utf8_name = define {
  type = "string", unique = true, custom_validator = validate_utf8_name,
  description = "A unique string representing a UTF-8 encoded name.",
}
typedefs.header_name = define {
  type = "string", custom_validator = validate_header_name,
  description = "A string representing an HTTP header name.",
}
typedefs.tag = define {
  type = "string", required = true, custom_validator = validate_tag,
  description = "A string representing a tag.",
}
typedefs.tags = define {
  type = "set", elements = typedefs.tag,
  description = "A set of strings representing tags.",
}
typedefs.semantic_version = define {
  type = "string",
  match_any = {
    patterns = { "^%d+[%.%d]*$", "^%d+[%.%d]*%-?.*$" },
    err = "invalid version number: must be in format of X.Y.Z",
  },
  match_none = { { pattern = "%.%.", err = "must not have empty version segments" } },
  description = "A string representing a semantic version number in the format X.Y.Z(-build), where X, Y, and Z are integers, plus an optional hyphen-separated build identifier.",
}
-- Kong compiles each value in its sandbox without running it (`kong.tools.sandbox`
-- `validate_safe`); the check here compiles it the same way in this VM, never runs it.
local function validate_lua_code(code)
  local ok, err = check_syntax(code)
  if ok then return true end
  return nil, "Error parsing function: " .. err
end
typedefs.lua_code = define {
  type = "map",
  keys = { type = "string", len_min = 1 },
  values = { type = "string", len_min = 1, custom_validator = validate_lua_code },
  description = "Lua code as a key-value map",
}
typedefs.queue = define {
  type = "record",
  fields = {
    { max_batch_size = { type = "integer", default = 1, between = { 1, 1000000 },
        description = "Maximum number of entries that can be processed at a time." } },
    { max_coalescing_delay = { type = "number", default = 1, between = { 0, 3600 },
        description = "Maximum number of (fractional) seconds to elapse after the first entry was queued before the queue starts calling the handler." } },
    { max_entries = { type = "integer", default = 10000, between = { 1, 1000000 },
        description = "Maximum number of entries that can be waiting on the queue." } },
    { max_bytes = { type = "integer",
        description = "Maximum number of bytes that can be waiting on a queue, requires string content." } },
    { max_retry_time = { type = "number", default = 60,
        description = "Time in seconds before the queue gives up calling a failed handler for a batch." } },
    { initial_retry_delay = { type = "number", default = 0.01, between = { 0.001, 1000000 },
        description = "Time in seconds before the initial retry is made for a failing batch." } },
    { max_retry_delay = { type = "number", default = 60, between = { 0.001, 1000000 },
        description = "Maximum time in seconds between retries, caps exponential backoff." } },
    { concurrency_limit = { type = "integer", default = 1, one_of = { -1, 1 },
        description = "The number of of queue delivery timers. -1 indicates unlimited." } },
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

typedefs.certificate = define {
  type = "string", custom_validator = pem_of("certificate", "CERTIFICATE"),
  description = "A string representing a certificate.",
}
typedefs.key = define {
  type = "string", custom_validator = pem_of("key", "KEY"),
  description = "A string representing a key.",
}
typedefs.cookie_name = define {
  type = "string", custom_validator = validate_cookie_name,
  description = "A string representing an HTTP token defined by RFC 2616.",
}

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
  description = "A pair of PEM-encoded public and private keys, which can be either a string or a reference to a credential in Kong Vault. If provided as strings, they must be valid PEM-encoded keys.",
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
typedefs.jwk = define {
  type = "record", required = false, fields = jwk_fields,
  description = "Custom type for representing a JSON Web Key (JWK).",
}
typedefs.methods = define {
  type = "set", elements = typedefs.http_method,
  description = "A set of strings representing HTTP methods. Each method must be a valid HTTP method.",
}
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
  description = "An array of strings representing hosts. A valid host is a string containing one or more labels separated by periods, with at most one wildcard label ('*')",
}
typedefs.router_path = define {
  type = "string", starts_with = "/", custom_validator = validate_path,
  description = "A string representing a router path. It must start with a forward slash ('/') for a fixed path, or the sequence '~/' for a regex path. It must not have empty segments.",
}
typedefs.router_paths = define {
  type = "array", elements = typedefs.router_path,
  description = "An array of strings representing router paths.",
}
typedefs.headers = define {
  type = "map", keys = typedefs.header_name, values = { type = "array", elements = { type = "string" } },
  description = "A map of header names to arrays of header values.",
}
local endpoint = {
  type = "record",
  fields = { { ip = typedefs.ip_or_cidr }, { port = typedefs.port } },
  entity_checks = { { at_least_one_of = { "ip", "port" } } },
}
typedefs.sources = define {
  type = "set", elements = endpoint,
  description = "A set of sources, each of which is a record with at least one of 'ip' or 'port'.",
}
typedefs.destinations = define {
  type = "set", elements = endpoint,
  description = "A set of destinations, each of which is a record with at least one of 'ip' or 'port'.",
}
typedefs.ttl = define {
  type = "number", between = { 0, 100000000 },
  description = "Time-to-live value for data",
}
typedefs.redis_host = typedefs.host {
  description = "When using the `redis` policy, this property specifies the address to the Redis server.",
}
typedefs.redis_server_name = typedefs.sni {
  description = "When using the `redis` policy with `redis_ssl` set to `true`, this property specifies the server name for the TLS extension Server Name Indication (SNI).",
}

-- Kong's deprecated alias, and its "must stay null" variants of the route fields
-- (routes_subschemas.lua uses them with an `err` override).
typedefs.cidr = typedefs.cidr_v4
typedefs.no_sources = typedefs.sources { eq = null, description = "A null value representing no sources." }
typedefs.no_destinations = typedefs.destinations { eq = null, description = "A null value representing no destinations." }
typedefs.no_methods = typedefs.methods { eq = null, description = "A null value representing no methods." }
typedefs.no_hosts = typedefs.hosts { eq = null, description = "A null value representing no hosts." }
typedefs.no_paths = typedefs.router_paths { eq = null, description = "A null value representing no router paths." }
typedefs.no_headers = typedefs.headers { eq = null, description = "A null value representing no headers." }

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
