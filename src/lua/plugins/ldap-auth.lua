-- Kong 3.10's ldap-auth plugin.
-- Sources: Kong/kong `kong/plugins/ldap-auth/schema.lua` (3.x: `ldaps`, `realm`,
-- descriptions, the `conditional` check refusing `ldaps` with `start_tls`);
-- developer.konghq.com `app/_schemas/gateway/plugins/3.9/LdapAuth.json` (no 3.10 file is
-- published). That page's `ws`/`wss` protocols are Enterprise-only.
local typedefs = require "kong.db.schema.typedefs"

local function flag(description)
  return { description = description, type = "boolean", required = true, default = false }
end

return {
  name = "ldap-auth",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { ldap_host = typedefs.host { required = true } },
          { ldap_port = typedefs.port { required = true, default = 389 } },
          { ldaps = flag("Set to `true` to connect using the LDAPS protocol (LDAP over TLS).  When `ldaps` is configured, you must use port 636. If the `ldap` setting is enabled, ensure the `start_tls` setting is disabled.") },
          { start_tls = flag("Set it to `true` to issue StartTLS (Transport Layer Security) extended operation over `ldap` connection. If the `start_tls` setting is enabled, ensure the `ldaps` setting is disabled.") },
          { verify_ldap_host = flag("Set to `true` to authenticate LDAP server. The server certificate will be verified according to the CA certificates specified by the `lua_ssl_trusted_certificate` directive.") },
          { base_dn = {
              description = "Base DN as the starting point for the search; e.g., dc=example,dc=com",
              type = "string", required = true,
          } },
          { attribute = {
              description = "Attribute to be used to search the user; e.g. cn",
              type = "string", required = true,
          } },
          { cache_ttl = {
              description = "Cache expiry time in seconds.",
              type = "number", required = true, default = 60,
          } },
          { hide_credentials = flag("An optional boolean value telling the plugin to hide the credential to the upstream server. It will be removed by Kong before proxying the request.") },
          { timeout = {
              description = "An optional timeout in milliseconds when waiting for connection with LDAP server.",
              type = "number", default = 10000,
          } },
          { keepalive = {
              description = "An optional value in milliseconds that defines how long an idle connection to LDAP server will live before being closed.",
              type = "number", default = 60000,
          } },
          { anonymous = {
              description = "An optional string (consumer UUID or username) value to use as an “anonymous” consumer if authentication fails. If empty (default null), the request fails with an authentication failure `4xx`.",
              type = "string",
          } },
          { header_type = {
              description = "An optional string to use as part of the Authorization header",
              type = "string", default = "ldap",
          } },
          { realm = {
              description = "When authentication fails the plugin sends `WWW-Authenticate` header with `realm` attribute value.",
              type = "string", required = false,
          } },
        },
        entity_checks = {
          { conditional = {
              if_field = "ldaps", if_match = { eq = true },
              then_field = "start_tls", then_match = { eq = false },
              then_err = "'ldaps' and 'start_tls' cannot be enabled simultaneously",
          } },
        },
    } },
  },
}
