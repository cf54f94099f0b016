-- Kong 3.10's statsd plugin (the open-source one; statsd-advanced is Enterprise).
-- Sources: Kong/kong `kong/plugins/statsd/schema.lua` (3.8+: `deprecation` attributes,
-- `queue`, `tag_style`) and `kong/plugins/statsd/constants.lua` (the status-code range
-- pattern); developer.konghq.com `app/_schemas/gateway/plugins/3.8/Statsd.json` (no 3.10
-- rendering is stored; it is Enterprise's, which adds the cache_datastore_* metric names).
local typedefs = require "kong.db.schema.typedefs"

local METRIC_NAMES = {
  "kong_latency", "latency", "request_count", "request_per_user",
  "request_size", "response_size", "status_count", "status_count_per_user",
  "unique_users", "upstream_latency",
  "status_count_per_workspace", "status_count_per_user_per_route",
  "shdict_usage",
}
local STAT_TYPES = { "counter", "gauge", "histogram", "meter", "set", "timer" }
local CONSUMER_IDENTIFIERS = { "consumer_id", "custom_id", "username" }
local SERVICE_IDENTIFIERS = { "service_id", "service_name", "service_host", "service_name_or_host" }
local WORKSPACE_IDENTIFIERS = { "workspace_id", "workspace_name" }
local TAG_STYLES = { "dogstatsd", "influxdb", "librato", "signalfx" }

-- Kong's default list: every metric; counters and the gauge sample everything; no
-- identifier is set (the *_identifier_default fields apply).
local DEFAULT_METRICS = {}
for _, m in ipairs({
  { "request_count", "counter" }, { "latency", "timer" }, { "request_size", "counter" },
  { "status_count", "counter" }, { "response_size", "counter" }, { "unique_users", "set" },
  { "request_per_user", "counter" }, { "upstream_latency", "timer" }, { "kong_latency", "timer" },
  { "status_count_per_user", "counter" }, { "status_count_per_workspace", "counter" },
  { "status_count_per_user_per_route", "counter" }, { "shdict_usage", "gauge" },
}) do
  local sampled = m[2] == "counter" or m[2] == "gauge"
  DEFAULT_METRICS[#DEFAULT_METRICS + 1] = {
    name = m[1], stat_type = m[2], sample_rate = sampled and 1 or nil,
  }
end

local function deprecated(name, instead, old_default)
  local verb = name == "retry_count" and "no longer works" or "is deprecated"
  return {
    message = "statsd: config." .. name .. " " .. verb .. ", please use config.queue." .. instead .. " instead",
    removal_in_version = "4.0",
    old_default = old_default,
  }
end

local metric = {
  type = "record",
  fields = {
    { name = { description = "StatsD metric’s name.", type = "string", required = true,
               one_of = METRIC_NAMES } },
    { stat_type = { description = "Determines what sort of event a metric represents.",
                    type = "string", required = true, one_of = STAT_TYPES } },
    { sample_rate = { description = "Sampling rate", type = "number", gt = 0 } },
    { consumer_identifier = { description = "Authenticated user detail.", type = "string",
                              one_of = CONSUMER_IDENTIFIERS } },
    { service_identifier = { description = "Service detail.", type = "string",
                             one_of = SERVICE_IDENTIFIERS } },
    { workspace_identifier = { description = "Workspace detail.", type = "string",
                               one_of = WORKSPACE_IDENTIFIERS } },
  },
  entity_checks = {
    { conditional = {
        if_field = "stat_type", if_match = { one_of = { "counter", "gauge" } },
        then_field = "sample_rate", then_match = { required = true },
    } },
  },
}

return {
  name = "statsd",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { host = typedefs.host {
              default = "localhost",
              description = "The IP address or hostname of StatsD server to send data to.",
          } },
          { port = typedefs.port {
              default = 8125,
              description = "The port of StatsD server to send data to.",
          } },
          { prefix = { description = "String to prefix to each metric's name.", type = "string",
                       default = "kong" } },
          { metrics = { description = "List of metrics to be logged.", type = "array",
                        default = DEFAULT_METRICS, elements = metric } },
          -- Ranges such as `200-299`.
          { allow_status_codes = {
              description = "List of status code ranges that are allowed to be logged in metrics.",
              type = "array",
              elements = { type = "string", match = "^[0-9]+-[0-9]+$" },
          } },
          -- UDP packets are combined up to this size (0: never); 65507 is the largest UDP payload.
          { udp_packet_size = { type = "number", between = { 0, 65507 }, default = 0 } },
          { use_tcp = { type = "boolean", default = false } },
          { hostname_in_prefix = { type = "boolean", default = false } },
          { consumer_identifier_default = { type = "string", required = true, default = "custom_id",
                                            one_of = CONSUMER_IDENTIFIERS } },
          { service_identifier_default = { type = "string", required = true,
                                           default = "service_name_or_host",
                                           one_of = SERVICE_IDENTIFIERS } },
          { workspace_identifier_default = { type = "string", required = true,
                                             default = "workspace_id",
                                             one_of = WORKSPACE_IDENTIFIERS } },
          { retry_count = { type = "integer",
                            deprecation = deprecated("retry_count", "max_retry_time", 10) } },
          { queue_size = { type = "integer",
                           deprecation = deprecated("queue_size", "max_batch_size", 1) } },
          { flush_timeout = { type = "number",
                              deprecation = deprecated("flush_timeout", "max_coalescing_delay", 2) } },
          { tag_style = { type = "string", required = false, one_of = TAG_STYLES } },
          { queue = typedefs.queue },
        },
    } },
  },
}
