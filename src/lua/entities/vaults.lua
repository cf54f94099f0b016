-- Kong 3.10's `vaults` entity (kong/db/schema/entities/vaults.lua), with the vaults Kong
-- 3.10 open source bundles (kong/constants.lua `BUNDLED_VAULTS`: `env`) as its
-- subschemas, each with its own config (kong/vaults/env/schema.lua). A prefix is what
-- `{vault://<prefix>/...}` references name, so it must be a host label and no vault's name.
local typedefs = require "kong.db.schema.typedefs"

local VAULTS = { "env" }

return {
  name = "vaults",
  primary_key = { "id" },
  cache_key = { "prefix" },
  endpoint_key = "prefix",
  workspaceable = true,
  subschema_key = "name",
  subschema_error = "vault '%s' is not installed",

  fields = {
    { id = typedefs.uuid },
    { prefix = { type = "string", required = true, unique = true, unique_across_ws = true,
                 match = [[^[a-z][a-z%d-]-[a-z%d]+$]], not_one_of = VAULTS } },
    { name = { type = "string", required = true } },
    { description = { type = "string" } },
    { config = { type = "record", abstract = true } },
    { created_at = typedefs.auto_timestamp_s },
    { updated_at = typedefs.auto_timestamp_s },
    { tags = typedefs.tags },
  },

  subschemas = {
    env = {
      name = "env",
      fields = {
        { config = {
            type = "record",
            fields = {
              { prefix = { type = "string", match = [[^[%a_-][%a%d_-]*$]] } },
            },
        } },
      },
    },
  },
}
