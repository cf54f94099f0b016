-- Kong 3.10's zipkin plugin: Kong/kong kong/plugins/zipkin/schema.lua (3.7+: `propagation`,
-- `queue`, deprecated `header_type`/`default_header_type`) and the configuration reference
-- app/_schemas/gateway/plugins/3.9/Zipkin.json of Kong/developer.konghq.com (no 3.10 file
-- is published; 3.9's lists these fields, defaults and descriptions).
local typedefs = require "kong.db.schema.typedefs"

-- Tags the plugin sets itself; a static tag may not take their names.
local PROTECTED_TAGS = {
  "error", "http.method", "http.path", "http.status_code", "kong.balancer.state",
  "kong.balancer.try", "kong.consumer", "kong.credential", "kong.node.id", "kong.route",
  "kong.service", "lc", "peer.hostname",
}

local static_tag = {
  type = "record",
  fields = {
    { name = { type = "string", required = true, not_one_of = PROTECTED_TAGS } },
    { value = { type = "string", required = true } },
  },
}

-- Kong: `repeated tags are not allowed: <name>`, for the first name seen twice.
local function no_repeated_tags(tags)
  if type(tags) ~= "table" then
    return true
  end
  local seen = {}
  for i = 1, #tags do
    local name = tags[i].name
    if seen[name] then
      return nil, "repeated tags are not allowed: " .. name
    end
    seen[name] = true
  end
  return true
end

local function choice(description, default, values, deprecation)
  return { description = description, type = "string", required = true, default = default,
           one_of = values, deprecation = deprecation }
end

return {
  name = "zipkin",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { local_service_name = { description = "The name of the service as displayed in Zipkin.",
                                   type = "string", required = true, default = "kong" } },
          { http_endpoint = typedefs.url },
          { sample_ratio = { description = "How often to sample requests that do not contain trace IDs. Set to `0` to turn sampling off, or to `1` to sample **all** requests. ",
                             type = "number", default = 0.001, between = { 0, 1 } } },
          { default_service_name = { description = "Set a default service name to override `unknown-service-name` in the Zipkin spans.",
                                     type = "string" } },
          { include_credential = { description = "Specify whether the credential of the currently authenticated consumer should be included in metadata sent to the Zipkin server.",
                                   type = "boolean", required = true, default = true } },
          { traceid_byte_count = { description = "The length in bytes of each request's Trace ID.",
                                   type = "integer", required = true, default = 16, one_of = { 8, 16 } } },
          { header_type = choice(
              "All HTTP requests going through the plugin are tagged with a tracing HTTP request. This property codifies what kind of tracing header the plugin expects on incoming requests",
              "preserve",
              { "preserve", "ignore", "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp" },
              { message = "zipkin: config.header_type is deprecated, please use config.propagation options instead",
                removal_in_version = "4.0", old_default = "preserve" }) },
          { default_header_type = choice(
              "Allows specifying the type of header to be added to requests with no pre-existing tracing headers and when `config.header_type` is set to `\"preserve\"`. When `header_type` is set to any other value, `default_header_type` is ignored.",
              "b3",
              { "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp" },
              { message = "zipkin: config.default_header_type is deprecated, please use config.propagation.default_format instead",
                removal_in_version = "4.0", old_default = "b3" }) },
          { tags_header = { description = "The Zipkin plugin will add extra headers to the tags associated with any HTTP requests that come with a header named as configured by this property.",
                            type = "string", required = true, default = "Zipkin-Tags" } },
          { static_tags = { description = "The tags specified on this property will be added to the generated request traces.",
                            type = "array", elements = static_tag, custom_validator = no_repeated_tags } },
          { http_span_name = choice("Specify whether to include the HTTP path in the span name.",
                                    "method", { "method", "method_path" }) },
          { connect_timeout = typedefs.timeout { default = 2000 } },
          { send_timeout = typedefs.timeout { default = 5000 } },
          { read_timeout = typedefs.timeout { default = 5000 } },
          { http_response_header_for_traceid = { type = "string" } },
          { phase_duration_flavor = choice("Specify whether to include the duration of each phase as an annotation or a tag.",
                                           "annotations", { "annotations", "tags" }) },
          { queue = typedefs.queue },
          { propagation = typedefs.propagation { default = { default_format = "b3" } } },
        },
    } },
  },
}
