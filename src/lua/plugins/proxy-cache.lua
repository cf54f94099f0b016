-- proxy-cache, as Kong 3.10 validates it.
-- Sources: Kong/kong `kong/plugins/proxy-cache/schema.lua` (3.x; the open-source
-- strategies module offers `memory` only); Kong/developer.konghq.com
-- `app/_schemas/gateway/plugins/3.13/ProxyCache.json` (no 3.10 file is published).
--
-- Left out: Kong's `custom_entity_check` on `config` that, for the memory strategy, looks
-- up `config.memory.dictionary_name` in `ngx.shared` ("missing shared dict '<name>'").
-- It is a runtime check of the node's nginx configuration, which a control plane does
-- not have; the data plane makes it.
local typedefs = require "kong.db.schema.typedefs"

local STRATEGY_TYPES = { "memory" }

return {
  name = "proxy-cache",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { response_code = {
              description = "Upstream response status code considered cacheable.",
              type = "array",
              default = { 200, 301, 404 },
              elements = { type = "integer", between = { 100, 900 } },
              len_min = 1,
              required = true,
          } },
          { request_method = {
              description = "Downstream request methods considered cacheable.",
              type = "array",
              default = { "GET", "HEAD" },
              elements = { type = "string", one_of = { "HEAD", "GET", "POST", "PATCH", "PUT" } },
              required = true,
          } },
          { content_type = {
              description = "Upstream response content types considered cacheable. The plugin performs an **exact match** against each specified value.",
              type = "array",
              default = { "text/plain", "application/json" },
              elements = { type = "string" },
              required = true,
          } },
          { cache_ttl = {
              description = "TTL, in seconds, of cache entities.",
              type = "integer",
              default = 300,
              gt = 0,
          } },
          { strategy = {
              description = "The backing data store in which to hold cache entities.",
              type = "string",
              one_of = STRATEGY_TYPES,
              required = true,
          } },
          { cache_control = {
              description = "When enabled, respect the Cache-Control behaviors defined in RFC7234.",
              type = "boolean",
              default = false,
              required = true,
          } },
          { ignore_uri_case = {
              type = "boolean",
              default = false,
              required = false,
          } },
          { storage_ttl = {
              description = "Number of seconds to keep resources in the storage backend. This value is independent of `cache_ttl` or resource TTLs defined by Cache-Control behaviors.",
              type = "integer",
          } },
          { memory = {
              type = "record",
              fields = {
                { dictionary_name = {
                    description = "The name of the shared dictionary in which to hold cache entities when the memory strategy is selected. Note that this dictionary currently must be defined manually in the Kong Nginx template.",
                    type = "string",
                    required = true,
                    default = "kong_db_cache",
                } },
              },
          } },
          { vary_query_params = {
              description = "Relevant query parameters considered for the cache key. If undefined, all params are taken into consideration.",
              type = "array",
              elements = { type = "string" },
          } },
          { vary_headers = {
              description = "Relevant headers considered for the cache key. If undefined, none of the headers are taken into consideration.",
              type = "array",
              elements = { type = "string" },
          } },
          { response_headers = {
              description = "Caching related diagnostic headers that should be included in cached responses",
              type = "record",
              fields = {
                { age = { type = "boolean", default = true } },
                { ["X-Cache-Status"] = { type = "boolean", default = true } },
                { ["X-Cache-Key"] = { type = "boolean", default = true } },
              },
          } },
        },
    } },
  },
}
