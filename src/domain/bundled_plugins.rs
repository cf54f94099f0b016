//! Names of the plugins bundled with Kong Gateway, which a custom plugin schema may not take.
//!
//! The list is the union, deduplicated and sorted, of two sources:
//!
//! * Kong Gateway 3.10 open source: the `plugins` list of `kong/constants.lua` (45 names). Read
//!   from a mirror of Kong/kong at commit aa5b9edf0e49b07d48252a6271bf22525203f416 (the copy of
//!   Kong/kong's own file held by the code index is an old 2.x one), and checked against the
//!   `kong.plugins.<name>.schema` modules of Kong/kong's `kong-3.10.0-0.rockspec` (commit
//!   0294d7b05386fb1d986d4191af8265a648cdb133, `tag = "3.10.0"`): the same 45 names.
//! * Kong Enterprise / Konnect: the Kong plugin names of the `konnectAvailablePlugins` fixture
//!   (`kongPluginNames`, 77 names) in Kong/public-ui-components
//!   `packages/entities/entities-plugins/fixtures/mockData.ts`, commits
//!   9cbc6af63b10bb1d2062b785305d1f3ad8b3748f and 0e03cd750969e0a49a98d08d856f7f7457ba772d (same
//!   list in both). The fixture's `customPluginNames` (`moesif`, `myplugin`…) are custom plugins
//!   and are left out.
//!
//! Only `oauth2`, `redirect` and `standard-webhooks` are in the first source and not the second.

/// Sorted, so `binary_search` works.
pub const BUNDLED_PLUGINS: &[&str] = &[
    "acl",
    "acme",
    "ai-azure-content-safety",
    "ai-prompt-decorator",
    "ai-prompt-guard",
    "ai-prompt-template",
    "ai-proxy",
    "ai-rate-limiting-advanced",
    "ai-request-transformer",
    "ai-response-transformer",
    "app-dynamics",
    "aws-lambda",
    "azure-functions",
    "basic-auth",
    "bot-detection",
    "canary",
    "correlation-id",
    "cors",
    "datadog",
    "degraphql",
    "exit-transformer",
    "file-log",
    "forward-proxy",
    "graphql-proxy-cache-advanced",
    "graphql-rate-limiting-advanced",
    "grpc-gateway",
    "grpc-web",
    "hmac-auth",
    "http-log",
    "ip-restriction",
    "jq",
    "jwe-decrypt",
    "jwt",
    "kafka-log",
    "kafka-upstream",
    "key-auth",
    "ldap-auth",
    "ldap-auth-advanced",
    "loggly",
    "mocking",
    "mtls-auth",
    "oas-validation",
    "oauth2",
    "oauth2-introspection",
    "opa",
    "openid-connect",
    "opentelemetry",
    "post-function",
    "pre-function",
    "prometheus",
    "proxy-cache",
    "proxy-cache-advanced",
    "rate-limiting",
    "rate-limiting-advanced",
    "redirect",
    "request-size-limiting",
    "request-termination",
    "request-transformer",
    "request-transformer-advanced",
    "request-validator",
    "response-ratelimiting",
    "response-transformer",
    "response-transformer-advanced",
    "route-by-header",
    "route-transformer-advanced",
    "saml",
    "session",
    "standard-webhooks",
    "statsd",
    "statsd-advanced",
    "syslog",
    "tcp-log",
    "tls-handshake-modifier",
    "tls-metadata-headers",
    "udp-log",
    "upstream-timeout",
    "websocket-size-limit",
    "websocket-validator",
    "xml-threat-protection",
    "zipkin",
];

/// The plugins bundled with Kong Gateway 3.10 open source, in the order of the `plugins`
/// list of Kong's `kong/constants.lua`: the ones a Kong 3.10 data plane loads by default,
/// and the ones konnektd validates with their schemas (`src/lua/plugins/`).
pub const KONG_OPEN_SOURCE_PLUGINS: [&str; 45] = [
    "jwt",
    "acl",
    "correlation-id",
    "cors",
    "oauth2",
    "tcp-log",
    "udp-log",
    "file-log",
    "http-log",
    "key-auth",
    "hmac-auth",
    "basic-auth",
    "ip-restriction",
    "request-transformer",
    "response-transformer",
    "request-size-limiting",
    "rate-limiting",
    "response-ratelimiting",
    "syslog",
    "loggly",
    "datadog",
    "ldap-auth",
    "statsd",
    "bot-detection",
    "aws-lambda",
    "request-termination",
    "prometheus",
    "proxy-cache",
    "session",
    "acme",
    "grpc-gateway",
    "grpc-web",
    "pre-function",
    "post-function",
    "azure-functions",
    "zipkin",
    "opentelemetry",
    "ai-proxy",
    "ai-prompt-decorator",
    "ai-prompt-template",
    "ai-prompt-guard",
    "ai-request-transformer",
    "ai-response-transformer",
    "standard-webhooks",
    "redirect",
];

/// Whether `name` is taken by a plugin that ships with Kong Gateway or Konnect.
pub fn is_bundled(name: &str) -> bool {
    BUNDLED_PLUGINS.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strictly increasing means sorted and free of duplicates at once.
    #[test]
    fn sorted_and_deduplicated() {
        for pair in BUNDLED_PLUGINS.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{:?} must sort before {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    /// Names from both sources are found; a custom plugin's name is not.
    #[test]
    fn known_names() {
        for name in [
            "acl",
            "key-auth",
            "rate-limiting",
            "oauth2",
            "redirect",
            "openid-connect",
            "rate-limiting-advanced",
        ] {
            assert!(is_bundled(name), "{name} should be bundled");
        }
        for name in ["ping-auth", "myplugin", "moesif", ""] {
            assert!(!is_bundled(name), "{name} should not be bundled");
        }
    }

    #[test]
    fn kong_open_source_plugins_are_distinct_and_bundled() {
        let mut sorted = KONG_OPEN_SOURCE_PLUGINS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 45);
        for name in KONG_OPEN_SOURCE_PLUGINS {
            assert!(is_bundled(name), "{name}");
        }
    }

    /// Every name is a plain lower-case plugin name.
    #[test]
    fn names_are_plain() {
        for name in BUNDLED_PLUGINS {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
        }
    }
}
