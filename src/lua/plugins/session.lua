-- Kong 3.10's session plugin.
-- Sources: Kong/kong `kong/plugins/session/schema.lua` (3.x, lua-resty-session 4: fields,
-- descriptions, the deprecated `cookie_*` shorthands and their functions; 3.10 adds
-- `hash_subject` and `store_metadata`, which Kong's compat table removes for older data
-- planes); developer.konghq.com `app/_schemas/gateway/plugins/3.11/Session.json` (no 3.10
-- file is published; 3.11 has the same fields as 3.10).
--
-- Deliberate difference: Kong's `secret` has `default = <random string>`, one value drawn
-- from OpenSSL when the schema module loads and then shared by every session plugin of that
-- node. The sandbox has no entropy source (its `math.random` is a fixed-seed PRNG, which
-- would give every konnektd the same secret), so here the field is `auto`: each plugin gets
-- its own random string from a cryptographic RNG when it is created. As in Kong, an absent
-- secret is filled on create, and an explicit null stays null.
local typedefs = require "kong.db.schema.typedefs"

local null = ngx.null

local HEADER_NAMES = { "id", "audience", "subject", "timeout", "idling-timeout",
                       "rolling-timeout", "absolute-timeout" }

local function headers()
  return {
    description = "List of information to include, as headers, in the response to the downstream.",
    type = "set", elements = { type = "string", one_of = HEADER_NAMES },
  }
end

local function setting(kind, default, description)
  return { description = description, type = kind, default = default }
end

-- A deprecated name that sets the current field (its value passed through `convert`).
local function renamed(kind, target, convert)
  return {
    type = kind,
    func = function(value)
      if convert then value = convert(value) end
      return { [target] = value }
    end,
  }
end

return {
  name = "session",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols },
    { config = {
        type = "record",
        fields = {
          { secret = {
              description = "The secret that is used in keyed HMAC generation.",
              type = "string", required = false, auto = true,
              encrypted = true, referenceable = true,
          } },
          { storage = {
              description = "Determines where the session data is stored. `kong`: Stores encrypted session data into Kong's current database strategy; the cookie will not contain any session data. `cookie`: Stores encrypted session data within the cookie itself.",
              type = "string", one_of = { "cookie", "kong" }, default = "cookie",
          } },
          { audience = setting("string", "default", "The session audience, which is the intended target application. For example `\"my-application\"`.") },
          { idling_timeout = setting("number", 900, "The session cookie idle time, in seconds.") },
          { rolling_timeout = setting("number", 3600, "The session cookie rolling timeout, in seconds. Specifies how long the session can be used until it needs to be renewed.") },
          { absolute_timeout = setting("number", 86400, "The session cookie absolute timeout, in seconds. Specifies how long the session can be used until it is no longer valid.") },
          { stale_ttl = setting("number", 10, "The duration, in seconds, after which an old cookie is discarded, starting from the moment when the session becomes outdated and is replaced by a new one.") },
          { cookie_name = setting("string", "session", "The name of the cookie.") },
          { cookie_path = setting("string", "/", "The resource in the host where the cookie is available.") },
          { cookie_domain = {
              description = "The domain with which the cookie is intended to be exchanged.",
              type = "string",
          } },
          { cookie_same_site = {
              description = "Determines whether and how a cookie may be sent with cross-site requests.",
              type = "string", default = "Strict", one_of = { "Strict", "Lax", "None", "Default" },
          } },
          { cookie_http_only = setting("boolean", true, "Applies the `HttpOnly` tag so that the cookie is sent only to a server.") },
          { cookie_secure = setting("boolean", true, "Applies the Secure directive so that the cookie may be sent to the server only with an encrypted request over the HTTPS protocol.") },
          { remember = setting("boolean", false, "Enables or disables persistent sessions.") },
          { remember_cookie_name = setting("string", "remember", "Persistent session cookie name. Use with the `remember` configuration parameter.") },
          { remember_rolling_timeout = setting("number", 604800, "The persistent session rolling timeout window, in seconds.") },
          { remember_absolute_timeout = setting("number", 2592000, "The persistent session absolute timeout limit, in seconds.") },
          { response_headers = headers() },
          { request_headers = headers() },
          { read_body_for_logout = { type = "boolean", default = false } },
          { logout_methods = {
              description = "A set of HTTP methods that the plugin will respond to.",
              type = "set", default = { "POST", "DELETE" },
              elements = { type = "string", one_of = { "GET", "POST", "DELETE" } },
          } },
          { logout_query_arg = setting("string", "session_logout", "The query argument passed to logout requests.") },
          { logout_post_arg = setting("string", "session_logout", "The POST argument passed to logout requests. Do not change this property.") },
          { hash_subject = setting("boolean", false, "Whether to hash or not the subject when store_metadata is enabled.") },
          { store_metadata = setting("boolean", false, "Whether to also store metadata of sessions, such as collecting data of sessions for a specific audience belonging to a specific subject.") },
        },
        -- Kong's deprecated forms (lua-resty-session 3 names), to be removed in Kong 4.0.
        shorthand_fields = {
          { cookie_lifetime = renamed("number", "rolling_timeout") },
          { cookie_idletime = renamed("number", "idling_timeout", function(value)
              if value == nil or value == null then return 0 end
              return value
            end) },
          -- lua-resty-session 4 computes the renewal itself: the value is dropped (Kong
          -- logs it at INFO level on the data plane).
          { cookie_renew = { type = "number", func = function() end } },
          { cookie_discard = renamed("number", "stale_ttl") },
          { cookie_samesite = renamed("string", "cookie_same_site", function(value)
              if value == "off" then return "Lax" end
              return value
            end) },
          { cookie_httponly = renamed("boolean", "cookie_http_only") },
          { cookie_persistent = renamed("boolean", "remember") },
        },
    } },
  },
}
