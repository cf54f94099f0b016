-- response-transformer, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/response-transformer/schema.lua` (3.7+: header names
-- checked with `kong.tools.http.validate_header_name`, header values with
-- `validate_header_value`, `json_types`); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.13/ResponseTransformer.json` and
-- `3.8/ResponseTransformer.json` (no 3.10 file is published; same fields).
local typedefs = require "kong.db.schema.typedefs"

-- Kong's `validate_header_name`: the characters a header name may have.
local function header_name_ok(name)
  return type(name) == "string" and name:match("^[%w%-_]+$") ~= nil
end

-- Kong's `validate_header_value`: no control characters but the tab.
local function header_value_ok(value)
  return type(value) == "string" and not value:find("[%z\1-\8\10-\31\127]")
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

local function validate_colon_header_values(pair)
  return validate_headers(pair, header_value_ok)
end

local function validate_colon_headers(pair)
  return validate_headers(pair, header_name_ok)
end

local function array_of(element)
  return { type = "array", default = {}, required = true, elements = element }
end

local string_array = array_of { type = "string" }
local colon_string_array = array_of { type = "string", match = "^[^:]+:.*$" }

local colon_string_record = {
  type = "record",
  fields = {
    { json = colon_string_array },
    { json_types = {
        description = "List of JSON type names. Specify the types of the JSON values returned when appending\nJSON properties. Each string element can be one of: boolean, number, or string.",
        type = "array",
        default = {},
        required = true,
        elements = { type = "string", one_of = { "boolean", "number", "string" } },
    } },
    { headers = array_of { type = "string", match = "^[^:]+:.*$",
                           custom_validator = validate_colon_header_values } },
  },
}

return {
  name = "response-transformer",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { remove = {
              type = "record",
              fields = {
                { json = string_array },
                { headers = string_array },
              },
          } },
          { rename = {
              type = "record",
              fields = {
                { json = colon_string_array },
                { headers = array_of { type = "string", match = "^[^:]+:.*$",
                                       custom_validator = validate_colon_headers } },
              },
          } },
          { replace = colon_string_record },
          { add = colon_string_record },
          { append = colon_string_record },
        },
    } },
  },
}
