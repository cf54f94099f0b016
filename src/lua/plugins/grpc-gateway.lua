-- grpc-gateway, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/grpc-gateway/schema.lua` (3.x: every protocol allowed,
-- one optional `proto`); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.13/GrpcGateway.json` (no 3.10 file is published).
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "grpc-gateway",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { proto = {
              description = "Describes the gRPC types and methods.",
              type = "string",
              required = false,
          } },
        },
    } },
  },
}
