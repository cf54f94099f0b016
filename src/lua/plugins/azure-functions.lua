-- Kong 3.10's azure-functions plugin: fields, defaults and descriptions from Kong/kong
-- kong/plugins/azure-functions/schema.lua (3.x, with descriptions) and the configuration
-- reference app/_schemas/gateway/plugins/3.11/AzureFunctions.json of
-- Kong/developer.konghq.com (no 3.10 file is published; 3.11's matches the source).
local typedefs = require "kong.db.schema.typedefs"

-- `encrypted` is Kong Enterprise's keyring; it changes nothing in validation.
local function secret(description)
  return { description = description, type = "string", encrypted = true, referenceable = true }
end

return {
  name = "azure-functions",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          -- connection
          { timeout = { description = "Timeout in milliseconds before closing a connection to the Azure Functions server.",
                        type = "number", default = 600000 } },
          { keepalive = { description = "Time in milliseconds during which an idle connection to the Azure Functions server lives before being closed.",
                          type = "number", default = 60000 } },
          { https = { description = "Use of HTTPS to connect with the Azure Functions server.",
                      type = "boolean", default = true } },
          { https_verify = { description = "Set to `true` to authenticate the Azure Functions server.",
                             type = "boolean", default = false } },
          -- authorization
          { apikey = secret("The apikey to access the Azure resources. If provided, it is injected as the `x-functions-key` header.") },
          { clientid = secret("The `clientid` to access the Azure resources. If provided, it is injected as the `x-functions-clientid` header.") },
          -- target
          { appname = { description = "The Azure app name.", type = "string", required = true } },
          { hostdomain = { description = "The domain where the function resides.",
                           type = "string", required = true, default = "azurewebsites.net" } },
          { routeprefix = { description = "Route prefix to use.", type = "string", default = "api" } },
          { functionname = { description = "Name of the Azure function to invoke.",
                             type = "string", required = true } },
        },
    } },
  },
}
