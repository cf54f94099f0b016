-- request-transformer, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/request-transformer/schema.lua` (3.7+: every protocol,
-- header names checked with `kong.tools.http.validate_header_name`, header values with
-- `validate_header_value`, `key '<name>' has no value` for a colon pair without a value);
-- Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.13/RequestTransformer.json`
-- (no 3.10 file is published; same fields, no descriptions beside the typedef's).
--
-- Kong also compiles each value as a penlight template (`pl.template.compile` with `#`
-- lines disabled): the code penlight generates for it is rebuilt here and compiled, never
-- run, by `konnektd.lua_syntax`, so a `$(...)` expression that is not Lua gets Kong's
-- `value '<v>' is not in supported format, error:[string "TMP"]:N: ...`.
local typedefs = require "kong.db.schema.typedefs"
local lua_syntax = require "konnektd.lua_syntax"

-- penlight's template.lua: each piece appends to the result table, one piece a line.
local APPENDER = " __R_size = __R_size + 1; __R_table[__R_size] = "

local function template_compiles(value)
  local pieces = {
    "return function()",
    "local __R_size, __R_table, __tostring = 0, {}, __tostring",
  }
  local s = 1
  for term, executed, e in value:gmatch("()%$(%b())()") do
    pieces[#pieces + 1] = APPENDER .. string.format("%q", value:sub(s, term - 1))
    pieces[#pieces + 1] = APPENDER .. string.format("__tostring(%s or '')", "(" .. executed:sub(2, -2) .. ")")
    s = e
  end
  local rest = string.format("%q", value:sub(s))
  if rest ~= '""' then pieces[#pieces + 1] = APPENDER .. rest end
  pieces[#pieces + 1] = "return __R_table"
  pieces[#pieces + 1] = "end"
  return lua_syntax.check(table.concat(pieces, "\n"), "TMP")
end

-- Kong's `validate_header_name`: the characters a header name may have.
local function header_name_ok(name)
  return type(name) == "string" and name:match("^[%w%-_]+$") ~= nil
end

-- Kong's `validate_header_value`: no control characters but the tab.
local function header_value_ok(value)
  return type(value) == "string" and not value:find("[%z\1-\8\10-\31\127]")
end

-- Entries are `name:value` pairs.
local function check_for_value(entry)
  local name, value = entry:match("^([^:]+):*(.-)$")
  if not name or not value or value == "" then
    return false, "key '" .. tostring(name) .. "' has no value"
  end
  local ok, err = template_compiles(value)
  if not ok then
    return false, "value '" .. value .. "' is not in supported format, error:" .. err
  end
  return true
end

local function validate_headers(pair, value_ok)
  local name, value = pair:match("^([^:]+):*(.-)$")
  if not header_name_ok(name) then
    return nil, string.format("'%s' is not a valid header", tostring(name))
  end
  if value_ok and not value_ok(value) then
    return nil, string.format("'%s' is not a valid header", tostring(value))
  end
  return true
end

local function validate_header_names(pair)
  return validate_headers(pair)
end

local function validate_colon_header_values(pair)
  return validate_headers(pair, header_value_ok)
end

local function validate_colon_headers(pair)
  return validate_headers(pair, header_name_ok)
end

local function array_of(element)
  return { type = "array", default = {}, required = true, elements = element }
end

local strings_array = array_of { type = "string" }
local colon_strings_array = array_of { type = "string", custom_validator = check_for_value }

local function colon_strings_record(with_uri)
  local fields = {
    { body = colon_strings_array },
    { headers = array_of { type = "string", match = "^[^:]+:.*$",
                           custom_validator = validate_colon_header_values } },
    { querystring = colon_strings_array },
  }
  if with_uri then
    fields[#fields + 1] = { uri = { type = "string" } }
  end
  return { type = "record", fields = fields }
end

return {
  name = "request-transformer",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { http_method = typedefs.http_method },
          { remove = {
              type = "record",
              fields = {
                { body = strings_array },
                { headers = array_of { type = "string", custom_validator = validate_header_names } },
                { querystring = strings_array },
              },
          } },
          { rename = {
              type = "record",
              fields = {
                { body = colon_strings_array },
                { headers = array_of { type = "string", match = "^[^:]+:.*$",
                                       custom_validator = validate_colon_headers } },
                { querystring = colon_strings_array },
              },
          } },
          { replace = colon_strings_record(true) },
          { add = colon_strings_record(false) },
          { append = colon_strings_record(false) },
        },
    } },
  },
}
