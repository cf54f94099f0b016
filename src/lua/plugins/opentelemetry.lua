-- Kong 3.10's opentelemetry plugin: Kong/kong kong/plugins/opentelemetry/schema.lua (3.8+:
-- `traces_endpoint`/`logs_endpoint`, `propagation`, `sampling_rate`, the deprecated
-- `endpoint` shorthand) and the configuration reference
-- app/_schemas/gateway/plugins/3.10/Opentelemetry.json of Kong/developer.konghq.com
-- (Kong Enterprise's rendering: its extra `instana` header type is not open source).
local typedefs = require "kong.db.schema.typedefs"

-- Kong: every attribute is a string, number or boolean, and a string is not empty.
local function simple_attributes(attributes)
  for _, v in pairs(attributes) do
    local vtype = type(v)
    if vtype ~= "string" and vtype ~= "number" and vtype ~= "boolean" then
      return nil, "invalid type of value: " .. vtype
    end
    if vtype == "string" and #v == 0 then
      return nil, "required field missing"
    end
  end
  return true
end

local function deprecated(message, old_default)
  return { message = message, removal_in_version = "4.0", old_default = old_default }
end

return {
  name = "opentelemetry",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { traces_endpoint = typedefs.url { referenceable = true } },
          { logs_endpoint = typedefs.url { referenceable = true } },
          { headers = {
              description = "The custom headers to be added in the HTTP request sent to the OTLP server. This setting is useful for adding the authentication headers (token) for the APM backend.",
              type = "map",
              keys = typedefs.header_name,
              values = { type = "string", referenceable = true },
          } },
          { resource_attributes = {
              description = "Attributes to add to the OpenTelemetry resource object, following the spec for Semantic Attributes. \nThe following attributes are automatically added:\n- `service.name`: The name of the service (default: `kong`).\n- `service.version`: The version of Kong Gateway.\n- `service.instance.id`: The node ID of Kong Gateway.\n\nYou can use this property to override default attribute values. For example, to override the default for `service.name`, you can specify `{ \"service.name\": \"my-service\" }`.",
              type = "map",
              keys = { type = "string", required = true },
              values = { type = "string", required = true },
              custom_validator = simple_attributes,
          } },
          { queue = typedefs.queue { default = { max_batch_size = 200 } } },
          { batch_span_count = {
              description = "The number of spans to be sent in a single batch.",
              type = "integer",
              deprecation = deprecated("opentelemetry: config.batch_span_count is deprecated, please use config.queue.max_batch_size instead", 200),
          } },
          { batch_flush_delay = {
              description = "The delay, in seconds, between two consecutive batches.",
              type = "integer",
              deprecation = deprecated("opentelemetry: config.batch_flush_delay is deprecated, please use config.queue.max_coalescing_delay instead", 3),
          } },
          { connect_timeout = typedefs.timeout { default = 1000 } },
          { send_timeout = typedefs.timeout { default = 5000 } },
          { read_timeout = typedefs.timeout { default = 5000 } },
          { http_response_header_for_traceid = {
              description = "Specifies a custom header for the `trace_id`. If set, the plugin sets the corresponding header in the response.",
              type = "string",
          } },
          { header_type = {
              description = "All HTTP requests going through the plugin are tagged with a tracing HTTP request. This property codifies what kind of tracing header the plugin expects on incoming requests.",
              type = "string",
              required = false,
              default = "preserve",
              one_of = { "preserve", "ignore", "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "gcp", "datadog" },
              deprecation = deprecated("opentelemetry: config.header_type is deprecated, please use config.propagation options instead", "preserve"),
          } },
          { sampling_rate = {
              description = "Tracing sampling rate for configuring the probability-based sampler. When set, this value supersedes the global `tracing_sampling_rate` setting from kong.conf.",
              type = "number",
              between = { 0, 1 },
              required = false,
          } },
          { propagation = typedefs.propagation { default = { default_format = "w3c" } } },
        },
        entity_checks = {
          { at_least_one_of = { "traces_endpoint", "logs_endpoint" } },
        },
        shorthand_fields = {
          -- Kong: deprecated, to be removed in Kong 4.0.
          { endpoint = typedefs.url {
              referenceable = true,
              deprecation = {
                message = "OpenTelemetry: config.endpoint is deprecated, please use config.traces_endpoint instead",
                removal_in_version = "4.0",
              },
              func = function(value)
                return { traces_endpoint = value }
              end,
          } },
        },
    } },
  },
}
