-- Kong 3.10's pre-function plugin (Kong/kong, kong/plugins/pre-function/_schema.lua, the
-- schema pre-function and post-function share: the 3.x "phase" interface without the
-- 2.x `functions` field; texts checked against spec/03-plugins/33-serverless-functions/
-- 01-schema_spec.lua). Kong compiles each function with `loadstring` and never runs
-- it; here konnektd's `konnektd.lua_syntax` compiles it the same way (text only).
local typedefs = require "kong.db.schema.typedefs"
local lua_syntax = require "konnektd.lua_syntax"

local PLUGIN = "pre-function"
local PHASES = { "certificate", "rewrite", "access", "header_filter", "body_filter", "log" }

-- Kong: `error parsing <plugin>: [string "<code>"]:N: <compiler message>`.
local function compiles(code)
  local ok, err = lua_syntax.check(code)
  if not ok then
    return false, "error parsing " .. PLUGIN .. ": " .. err
  end
  return true
end

local function phase_functions()
  return {
    description = "Custom functions, which can be user-defined, are cached and executed sequentially during specific phases: `certificate`, `rewrite`, `access`, `header_filter`, `body_filter`, and `log`.",
    type = "array",
    required = true,
    default = {},
    elements = { type = "string", required = false, custom_validator = compiles },
  }
end

local fields, non_empty = {}, {}
for _, phase in ipairs(PHASES) do
  fields[#fields + 1] = { [phase] = phase_functions() }
  non_empty[#non_empty + 1] = "config." .. phase
end

return {
  name = PLUGIN,
  fields = {
    { consumer = typedefs.no_consumer },
    { config = { type = "record", fields = fields } },
  },
  entity_checks = {
    { at_least_one_of = non_empty },
  },
}
