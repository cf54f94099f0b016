-- Kong 3.10's acme plugin: Kong/kong kong/plugins/acme/schema.lua (3.x: `account_key`,
-- Redis storage built on `kong.tools.redis.schema` plus `extra_options`, deprecated Redis
-- shorthands with `deprecation` tables as Kong 3.8+ writes them) and the configuration
-- reference app/_schemas/gateway/plugins/3.9/Acme.json of Kong/developer.konghq.com (no
-- 3.10 file is published).
--
-- Left out, as they need the data plane: `storage_config.shm.shm_name` must name an
-- `ngx.shared` zone of the node (Kong's validator reads `ngx.shared[name]`).
local typedefs = require "kong.db.schema.typedefs"
local redis_schema = require "kong.tools.redis.schema"

-- Kong's kong/plugins/acme/reserved_words.lua: key prefixes the plugin writes itself.
local RESERVED_PREFIXES = {
  "kong_acme:renew_config:",
  "kong_acme:renew_last_run",
  "kong_acme:cert_key:",
}

local function namespace_not_reserved(namespace)
  if namespace ~= "" then
    for _, prefix in ipairs(RESERVED_PREFIXES) do
      if string.sub(namespace, 1, #prefix) == prefix then
        return nil, "namespace can't be prefixed with reserved word: " .. prefix
      end
    end
  end
  return true
end

-- Kong's Redis storage: the shared Redis fields (without their entity checks), then ACME's own.
local redis_fields = {}
for i, field in ipairs(redis_schema.config_schema.fields) do
  redis_fields[i] = field
end
redis_fields[#redis_fields + 1] = { extra_options = {
  description = "Custom ACME Redis options",
  type = "record",
  fields = {
    { namespace = { description = "A namespace to prepend to all keys stored in Redis.",
                    type = "string", required = true, default = "", len_min = 0,
                    custom_validator = namespace_not_reserved } },
    { scan_count = { description = "The number of keys to return in Redis SCAN calls.",
                     type = "number", required = false, default = 10 } },
  },
} }

-- Kong: deprecated, to be removed in Kong 4.0.
local function renamed(old, new_path, def, to)
  def.translate_backwards = new_path
  def.deprecation = {
    replaced_with = { { path = new_path } },
    message = "acme: config.storage_config.redis." .. old .. " is deprecated, please use config.storage_config.redis."
      .. table.concat(new_path, ".") .. " instead",
    removal_in_version = "4.0",
  }
  def.func = to
  return { [old] = def }
end

local redis_shorthands = {
  renamed("auth", { "password" }, { type = "string", len_min = 0 },
    function(value) return { password = value } end),
  renamed("ssl_server_name", { "server_name" }, { type = "string" },
    function(value) return { server_name = value } end),
  renamed("namespace", { "extra_options", "namespace" }, { type = "string", len_min = 0 },
    function(value) return { extra_options = { namespace = value } } end),
  renamed("scan_count", { "extra_options", "scan_count" }, { type = "integer" },
    function(value) return { extra_options = { scan_count = value } } end),
}

local function consul_like(extra)
  local fields = {
    { https = { description = "Boolean representation of https.", type = "boolean", default = false } },
    { host = typedefs.host },
    { port = typedefs.port },
    { kv_path = { description = "KV prefix path.", type = "string" } },
    { timeout = { description = "Timeout in milliseconds.", type = "number" } },
    { token = { description = "Consul ACL token.", type = "string", referenceable = true } },
  }
  for _, field in ipairs(extra or {}) do
    fields[#fields + 1] = field
  end
  return { type = "record", fields = fields }
end

local vault_fields = {
  { tls_verify = { description = "Turn on TLS verification.", type = "boolean", default = true } },
  { tls_server_name = { description = "SNI used in request, default to host if omitted.", type = "string" } },
  { auth_method = { description = "Auth Method, default to token, can be 'token' or 'kubernetes'.",
                    type = "string", default = "token", one_of = { "token", "kubernetes" } } },
  { auth_path = { description = "Vault's authentication path to use.", type = "string" } },
  { auth_role = { description = "The role to try and assign.", type = "string" } },
  { jwt_path = { description = "The path to the JWT.", type = "string" } },
}

-- `encrypted` is Kong Enterprise's keyring; it changes nothing in validation.
local function secret(description, extra)
  local def = { description = description, type = "string", encrypted = true, referenceable = true }
  for k, v in pairs(extra or {}) do
    def[k] = v
  end
  return def
end

-- Kong's check depends on the node's role: a control plane refuses `shm` storage (each data
-- plane would keep its own certificates), a DB-less node refuses `kong`. konnektd is a
-- hybrid control plane with a database, so it answers as a Kong control plane does.
local function storage_for_hybrid_mode(entity)
  if entity.config.storage == "shm" then
    return nil, "\"shm\" storage can't be used in Hybrid mode"
  end
  return true
end

return {
  name = "acme",
  fields = {
    -- global plugin only
    { consumer = typedefs.no_consumer },
    { service = typedefs.no_service },
    { route = typedefs.no_route },
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { account_email = secret("The account identifier. Can be reused in a different plugin instance.", {
              -- Kong: a very loose check, for basic sanity.
              match = "%w*%p*@+%w*%.?%w*",
              required = true,
          }) },
          { account_key = {
              description = "The private key associated with the account.",
              type = "record",
              required = false,
              fields = {
                { key_id = { description = "The Key ID.", type = "string", required = true } },
                { key_set = { description = "The ID of the key set to associate the Key ID with.", type = "string" } },
              },
          } },
          { api_uri = typedefs.url { default = "https://acme-v02.api.letsencrypt.org/directory" } },
          { tos_accepted = { description = "If you are using Let's Encrypt, you must set this to `true` to agree the terms of service.",
                             type = "boolean", default = false } },
          { eab_kid = secret("External account binding (EAB) key id. You usually don't need to set this unless it is explicitly required by the CA.") },
          { eab_hmac_key = secret("External account binding (EAB) base64-encoded URL string of the HMAC key. You usually don't need to set this unless it is explicitly required by the CA.") },
          { cert_type = { description = "The certificate type to create. The possible values are `rsa` for RSA certificate or `ecc` for EC certificate.",
                          type = "string", default = "rsa", one_of = { "rsa", "ecc" } } },
          { rsa_key_size = { description = "RSA private key size for the certificate. The possible values are 2048, 3072, or 4096.",
                             type = "number", default = 4096, one_of = { 2048, 3072, 4096 } } },
          { renew_threshold_days = { description = "Days remaining to renew the certificate before it expires.",
                                     type = "number", default = 14 } },
          { domains = typedefs.hosts },
          { allow_any_domain = { description = "If set to `true`, the plugin allows all domains and ignores any values in the `domains` list.",
                                 type = "boolean", default = false } },
          { fail_backoff_minutes = { description = "Minutes to wait for each domain that fails to create a certificate. This applies to both a\nnew certificate and a renewal certificate.",
                                     type = "number", default = 5 } },
          { storage = { description = "The backend storage type to use. In DB-less mode and Konnect, `kong` storage is unavailable. In hybrid mode and Konnect, `shm` storage is unavailable. `shm` storage does not persist during Kong restarts and does not work for Kong running on different machines, so consider using one of `kong`, `redis`, `consul`, or `vault` in production.",
                        type = "string", default = "shm",
                        one_of = { "kong", "shm", "redis", "consul", "vault" } } },
          { storage_config = {
              type = "record",
              fields = {
                { shm = { type = "record", fields = {
                    { shm_name = { description = "Name of shared memory zone used for Kong API gateway storage",
                                   type = "string", default = "kong" } },
                } } },
                -- Kong: must be a table per schema definition.
                { kong = { type = "record", fields = {} } },
                { redis = { type = "record", fields = redis_fields, shorthand_fields = redis_shorthands } },
                { consul = consul_like() },
                { vault = consul_like(vault_fields) },
              },
          } },
          { preferred_chain = { description = "A string value that specifies the preferred certificate chain to use when generating certificates.",
                                type = "string" } },
          { enable_ipv4_common_name = { description = "A boolean value that controls whether to include the IPv4 address in the common name field of generated certificates.",
                                        type = "boolean", default = true } },
        },
    } },
  },
  entity_checks = {
    { conditional = {
        if_field = "config.api_uri",
        if_match = { one_of = { "https://acme-v02.api.letsencrypt.org",
                                "https://acme-staging-v02.api.letsencrypt.org" } },
        then_field = "config.tos_accepted",
        then_match = { eq = true },
        then_err = "terms of service must be accepted, see https://letsencrypt.org/repository/",
    } },
    { conditional = {
        if_field = "config.storage", if_match = { eq = "redis" },
        then_field = "config.storage_config.redis.host", then_match = { required = true },
    } },
    { conditional = {
        if_field = "config.storage", if_match = { eq = "redis" },
        then_field = "config.storage_config.redis.port", then_match = { required = true },
    } },
    { custom_entity_check = { field_sources = { "config.storage" }, fn = storage_for_hybrid_mode } },
  },
}
