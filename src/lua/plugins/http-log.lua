-- Kong 3.10's http-log plugin.
-- Sources: Kong/kong `kong/plugins/http-log/schema.lua` (3.8+: `deprecation` attributes on
-- retry_count, queue_size and flush_timeout; referenceable header values; the record's
-- userinfo/Authorization check); developer.konghq.com
-- `app/_schemas/gateway/plugins/3.9/HttpLog.json` and `3.11/HttpLog.json` (no 3.10
-- rendering is stored; both agree on every field).
local typedefs = require "kong.db.schema.typedefs"

-- The user info of a URL, found as luasocket's `url.parse` finds it: drop the fragment,
-- then the scheme, then the authority is what follows `//` up to the next `/`, and the
-- user info is what comes before its first `@`.
local function userinfo(url)
  url = string.gsub(url, "#.*$", "")
  url = string.gsub(url, "^[%w][%w%+%-%.]*:", "")
  local authority = string.match(url, "^//([^/]*)")
  return authority and string.match(authority, "^([^@]*)@")
end

-- Kong's record check: the endpoint's user info already authorizes, so an explicit
-- Authorization header would contradict it.
local function no_double_authorization(config)
  if userinfo(config.http_endpoint) and config.headers and config.headers ~= ngx.null then
    for name in pairs(config.headers) do
      if string.lower(name) == "authorization" then
        return false, "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed"
      end
    end
  end
  return true
end

local function deprecated(name, instead, old_default)
  local verb = name == "retry_count" and "no longer works" or "is deprecated"
  return {
    message = "http-log: config." .. name .. " " .. verb .. ", please use config.queue." .. instead .. " instead",
    removal_in_version = "4.0",
    old_default = old_default,
  }
end

return {
  name = "http-log",
  fields = {
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          -- `encrypted` is Kong Enterprise's keyring; it changes nothing in validation.
          { http_endpoint = typedefs.url { required = true, encrypted = true, referenceable = true } },
          { method = {
              description = "An optional method used to send data to the HTTP server. Supported values are `POST` (default), `PUT`, and `PATCH`.",
              type = "string",
              default = "POST",
              one_of = { "POST", "PUT", "PATCH" },
          } },
          { content_type = {
              description = "Indicates the type of data sent. The only available option is `application/json`.",
              type = "string",
              default = "application/json",
              one_of = { "application/json", "application/json; charset=utf-8" },
          } },
          { timeout = {
              description = "An optional timeout in milliseconds when sending data to the upstream server.",
              type = "number",
              default = 10000,
          } },
          { keepalive = {
              description = "An optional value in milliseconds that defines how long an idle connection will live before being closed.",
              type = "number",
              default = 60000,
          } },
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
          { headers = {
              description = "An optional table of headers included in the HTTP message to the upstream server. Values are indexed by header name, and each header name accepts a single string.",
              type = "map",
              keys = typedefs.header_name {
                match_none = {
                  { pattern = "^[Hh][Oo][Ss][Tt]$", err = "cannot contain 'Host' header" },
                  -- Kong's pattern has `[nn]`, so it misses an upper-case N; kept as Kong has it.
                  { pattern = "^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Ll][Ee][nn][Gg][Tt][Hh]$",
                    err = "cannot contain 'Content-Length' header" },
                  { pattern = "^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Tt][Yy][Pp][Ee]$",
                    err = "cannot contain 'Content-Type' header" },
                },
              },
              values = { type = "string", referenceable = true },
          } },
          { queue = typedefs.queue },
          { custom_fields_by_lua = typedefs.lua_code },
        },
        custom_validator = no_double_authorization,
    } },
  },
}
