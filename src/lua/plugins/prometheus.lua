-- Kong 3.10's prometheus plugin.
-- Sources: Kong/kong `kong/plugins/prometheus/schema.lua` (3.x with descriptions) and
-- `kong/clustering/compat/removed_fields.lua` (3.10 adds `wasm_metrics`);
-- developer.konghq.com `app/_schemas/gateway/plugins/3.11/Prometheus.json` (no 3.10
-- rendering is stored; 3.8's is the same without `wasm_metrics`).
--
-- Kong's config record also has a `custom_validator` that answers
-- "ngx shared dict 'prometheus_metrics' not found" when the node lacks that shared dict:
-- a property of the Kong node, not of the config, so it is left out here (konnektd has no
-- nginx; every Kong data plane declares the dict).
local typedefs = require "kong.db.schema.typedefs"

local function flag(description)
  return { description = description, type = "boolean", default = false }
end

return {
  name = "prometheus",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { per_consumer = flag("A boolean value that determines if per-consumer metrics should be collected. If enabled, the `kong_http_requests_total` and `kong_bandwidth_bytes` metrics fill in the consumer label when available.") },
          { status_code_metrics = flag("A boolean value that determines if status code metrics should be collected. If enabled, `http_requests_total`, `stream_sessions_total` metrics will be exported.") },
          { ai_metrics = flag("A boolean value that determines if ai metrics should be collected. If enabled, the `ai_llm_requests_total`, `ai_llm_cost_total` and `ai_llm_tokens_total` metrics will be exported.") },
          { latency_metrics = flag("A boolean value that determines if latency metrics should be collected. If enabled, `kong_latency_ms`, `upstream_latency_ms` and `request_latency_ms` metrics will be exported.") },
          { bandwidth_metrics = flag("A boolean value that determines if bandwidth metrics should be collected. If enabled, `bandwidth_bytes` and `stream_sessions_total` metrics will be exported.") },
          { upstream_health_metrics = flag("A boolean value that determines if upstream metrics should be collected. If enabled, `upstream_target_health` metric will be exported.") },
          { wasm_metrics = flag("A boolean value that determines if Wasm metrics should be collected.") },
        },
    } },
  },
}
