//! Kong's core entity schemas, written in Kong's schema language and evaluated by the
//! same sandbox as uploads, so services, routes and consumers are validated by the same
//! engine as plugins. What Kong does outside these schemas is in `entities/NOTES.md`.

/// The schema source of a core entity kind, by collection name.
pub fn schema_source(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "services" => include_str!("entities/services.lua"),
        "routes" => include_str!("entities/routes.lua"),
        "consumers" => include_str!("entities/consumers.lua"),
        "consumer_groups" => include_str!("entities/consumer_groups.lua"),
        "keyauth_credentials" => include_str!("entities/keyauth_credentials.lua"),
        "basicauth_credentials" => include_str!("entities/basicauth_credentials.lua"),
        "hmacauth_credentials" => include_str!("entities/hmacauth_credentials.lua"),
        "jwt_secrets" => include_str!("entities/jwt_secrets.lua"),
        "acls" => include_str!("entities/acls.lua"),
        "upstreams" => concat!(
            include_str!("entities/normalize_ip.lua"),
            include_str!("entities/upstreams.lua")
        ),
        "targets" => concat!(
            include_str!("entities/normalize_ip.lua"),
            include_str!("entities/targets.lua")
        ),
        "certificates" => include_str!("entities/certificates.lua"),
        "ca_certificates" => include_str!("entities/ca_certificates.lua"),
        "snis" => include_str!("entities/snis.lua"),
        "key_sets" => include_str!("entities/key_sets.lua"),
        "keys" => include_str!("entities/keys.lua"),
        "vaults" => include_str!("entities/vaults.lua"),
        _ => return None,
    })
}
