-- Kong 3.10's datadog plugin.
-- Sources: Kong/kong `kong/plugins/datadog/schema.lua` (3.8+: `deprecation` attributes,
-- `distribution` stat type, referenceable host, the sample_rate conditional);
-- developer.konghq.com `app/_schemas/gateway/plugins/3.8/Datadog.json` and
-- `3.12/Datadog.json` (no 3.10 rendering is stored; both agree on the fields).
local typedefs = require "kong.db.schema.typedefs"

local METRIC_NAMES = { "kong_latency", "latency", "request_count", "request_size",
                       "response_size", "upstream_latency" }
local STAT_TYPES = { "counter", "gauge", "histogram", "meter", "set", "timer", "distribution" }
local CONSUMER_IDENTIFIERS = { "consumer_id", "custom_id", "username" }

-- Kong's default list: every metric, tagged `app:kong`, identified by custom_id; the
-- counter samples everything.
local DEFAULT_METRICS = {}
for _, m in ipairs({ { "request_count", "counter" }, { "latency", "timer" },
                     { "request_size", "timer" }, { "response_size", "timer" },
                     { "upstream_latency", "timer" }, { "kong_latency", "timer" } }) do
  DEFAULT_METRICS[#DEFAULT_METRICS + 1] = {
    name = m[1],
    stat_type = m[2],
    sample_rate = m[2] == "counter" and 1 or nil,
    tags = { "app:kong" },
    consumer_identifier = "custom_id",
  }
end

local function deprecated(name, instead, old_default)
  local verb = name == "retry_count" and "no longer works" or "is deprecated"
  return {
    message = "datadog: config." .. name .. " " .. verb .. ", please use config.queue." .. instead .. " instead",
    removal_in_version = "4.0",
    old_default = old_default,
  }
end

local metric = {
  type = "record",
  fields = {
    { name = { description = "Datadog metric’s name", type = "string", required = true,
               one_of = METRIC_NAMES } },
    { stat_type = { description = "Determines what sort of event the metric represents",
                    type = "string", required = true, one_of = STAT_TYPES } },
    -- A tag may not end with `:`.
    { tags = { description = "List of tags", type = "array",
               elements = { type = "string", match = "^.*[^:]$" } } },
    { sample_rate = { description = "Sampling rate", type = "number", between = { 0, 1 } } },
    { consumer_identifier = { description = "Authenticated user detail", type = "string",
                              one_of = CONSUMER_IDENTIFIERS } },
  },
  entity_checks = {
    { conditional = {
        if_field = "stat_type", if_match = { one_of = { "counter", "gauge" } },
        then_field = "sample_rate", then_match = { required = true },
    } },
  },
}

return {
  name = "datadog",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { host = typedefs.host { referenceable = true, default = "localhost" } },
          { port = typedefs.port { default = 8125 } },
          { prefix = { description = "String to be attached as a prefix to a metric's name.",
                       type = "string", default = "kong" } },
          { service_name_tag = { description = "String to be attached as the name of the service.",
                                 type = "string", default = "name" } },
          { status_tag = { description = "String to be attached as the tag of the HTTP status.",
                           type = "string", default = "status" } },
          { consumer_tag = { description = "String to be attached as tag of the consumer.",
                             type = "string", default = "consumer" } },
          { retry_count = {
              description = "Number of times to retry when sending data to the upstream server.",
              type = "integer",
              deprecation = deprecated("retry_count", "max_retry_time", 10),
          } },
          { queue_size = {
              description = "Maximum number of log entries to be sent on each message to the upstream server.",
              type = "integer",
              deprecation = deprecated("queue_size", "max_batch_size", 1),
          } },
          { flush_timeout = {
              description = "Optional time in seconds. If `queue_size` > 1, this is the max idle time before sending a log with less than `queue_size` records.",
              type = "number",
              deprecation = deprecated("flush_timeout", "max_coalescing_delay", 2),
          } },
          { queue = typedefs.queue },
          { metrics = {
              description = "List of metrics to be logged.",
              type = "array",
              required = true,
              default = DEFAULT_METRICS,
              elements = metric,
          } },
        },
    } },
  },
}
