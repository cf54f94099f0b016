//! The core entities a control plane holds and the rules Kong applies to them outside
//! their schemas (`kong/db/dao/*.lua`, `kong/api/endpoints.lua`): lookup keys, unique
//! fields, foreign fields and what deleting their target does (src/lua/entities/NOTES.md),
//! and the hooks of the kinds with rules of their own ([`super::plugins`],
//! [`super::routes`]).

use futures_util::future::BoxFuture;
use uuid::Uuid;

use super::{Entities, EntityError};
pub use crate::domain::entity_kind::{ForeignField, OnDelete};
use crate::schema::filled::Filled;

/// A rule of Kong's DAO for one kind, checked after the schema validated the entity (it
/// may read other entities of the control plane, and complete the entity as Kong's DAO
/// does before it writes: a target's address, a CA certificate's digest).
pub type Check =
    for<'a> fn(&'a Entities, Uuid, &'a mut Filled) -> BoxFuture<'a, Result<(), EntityError>>;

/// A unique key no single field holds (the plugin's scope), enforced by the store.
#[derive(Debug)]
pub struct CompositeKey {
    /// Its name among the entity's keys in the store.
    pub key: &'static str,
    /// What Koko's constraint error calls it.
    pub index: &'static str,
    pub value: fn(&Filled) -> String,
}

#[derive(Debug)]
pub struct EntityKind {
    /// The collection name, as in URLs and Kong's DAO (`services`).
    pub name: &'static str,
    /// The singular, as Kong's error texts and nested fields use it (`service`).
    pub singular: &'static str,
    /// The field a non-UUID path segment is looked up by (Kong's `endpoint_key`).
    pub endpoint_key: Option<&'static str>,
    /// Fields unique within a control plane (nulls never collide).
    pub unique: &'static [&'static str],
    pub foreign: &'static [ForeignField],
    pub composite_key: Option<CompositeKey>,
    /// Checked on every write, after the schema.
    pub check: Option<Check>,
}

pub static SERVICES: EntityKind = EntityKind {
    name: "services",
    singular: "service",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[ForeignField {
        field: "client_certificate",
        target: "certificates",
        on_delete: OnDelete::Restrict,
    }],
    composite_key: None,
    check: None,
};

pub static ROUTES: EntityKind = EntityKind {
    name: "routes",
    singular: "route",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[ForeignField {
        field: "service",
        target: "services",
        on_delete: OnDelete::Restrict,
    }],
    composite_key: None,
    check: Some(super::routes::check),
};

pub static CONSUMERS: EntityKind = EntityKind {
    name: "consumers",
    singular: "consumer",
    endpoint_key: Some("username"),
    unique: &["username", "custom_id"],
    foreign: &[],
    composite_key: None,
    check: None,
};

pub static CONSUMER_GROUPS: EntityKind = EntityKind {
    name: "consumer_groups",
    singular: "consumer_group",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[],
    composite_key: None,
    check: None,
};

pub static PLUGINS: EntityKind = EntityKind {
    name: "plugins",
    singular: "plugin",
    endpoint_key: None,
    unique: &["instance_name"],
    foreign: &[
        ForeignField {
            field: "service",
            target: "services",
            on_delete: OnDelete::Cascade,
        },
        ForeignField {
            field: "route",
            target: "routes",
            on_delete: OnDelete::Cascade,
        },
        ForeignField {
            field: "consumer",
            target: "consumers",
            on_delete: OnDelete::Cascade,
        },
        ForeignField {
            field: "consumer_group",
            target: "consumer_groups",
            on_delete: OnDelete::Cascade,
        },
    ],
    composite_key: Some(super::plugins::SCOPE_KEY),
    check: Some(super::plugins::check),
};

/// A credential's consumer: deleted with it (each plugin's `daos.lua`).
const OWNED_BY_CONSUMER: &[ForeignField] = &[ForeignField {
    field: "consumer",
    target: "consumers",
    on_delete: OnDelete::Cascade,
}];

/// key-auth credentials (kong/plugins/key-auth/daos.lua): the key is unique.
pub static KEYAUTH_CREDENTIALS: EntityKind = EntityKind {
    name: "keyauth_credentials",
    singular: "keyauth_credential",
    endpoint_key: Some("key"),
    unique: &["key"],
    foreign: OWNED_BY_CONSUMER,
    composite_key: None,
    check: None,
};

pub static UPSTREAMS: EntityKind = EntityKind {
    name: "upstreams",
    singular: "upstream",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[ForeignField {
        field: "client_certificate",
        target: "certificates",
        on_delete: OnDelete::Restrict,
    }],
    composite_key: None,
    check: None,
};

/// basic-auth credentials (kong/plugins/basic-auth/daos.lua): the username is unique;
/// the password is stored hashed ([`super::credentials`]).
pub static BASICAUTH_CREDENTIALS: EntityKind = EntityKind {
    name: "basicauth_credentials",
    singular: "basicauth_credential",
    endpoint_key: Some("username"),
    unique: &["username"],
    foreign: OWNED_BY_CONSUMER,
    composite_key: None,
    check: None,
};

/// hmac-auth credentials (kong/plugins/hmac-auth/daos.lua): the username is unique.
pub static HMACAUTH_CREDENTIALS: EntityKind = EntityKind {
    name: "hmacauth_credentials",
    singular: "hmacauth_credential",
    endpoint_key: Some("username"),
    unique: &["username"],
    foreign: OWNED_BY_CONSUMER,
    composite_key: None,
    check: None,
};

/// jwt credentials (kong/plugins/jwt/daos.lua): the key is unique; an asymmetric
/// algorithm's public key must load ([`super::credentials`]).
pub static JWT_SECRETS: EntityKind = EntityKind {
    name: "jwt_secrets",
    singular: "jwt_secret",
    endpoint_key: Some("key"),
    unique: &["key"],
    foreign: OWNED_BY_CONSUMER,
    composite_key: None,
    check: Some(super::credentials::check_jwt),
};

/// acls (kong/plugins/acl/daos.lua): a group once per consumer (Kong's `cache_key`).
pub static ACLS: EntityKind = EntityKind {
    name: "acls",
    singular: "acl",
    endpoint_key: Some("group"),
    unique: &[],
    foreign: OWNED_BY_CONSUMER,
    composite_key: Some(super::credentials::ACL_GROUP_KEY),
    check: None,
};

/// Kong's targets are found by id only here: their `endpoint_key` (`target`) is unique
/// per upstream, not per control plane.
pub static TARGETS: EntityKind = EntityKind {
    name: "targets",
    singular: "target",
    endpoint_key: None,
    unique: &[],
    foreign: &[ForeignField {
        field: "upstream",
        target: "upstreams",
        on_delete: OnDelete::Cascade,
    }],
    composite_key: Some(super::upstreams::TARGET_KEY),
    check: Some(super::upstreams::check_target),
};

pub static CERTIFICATES: EntityKind = EntityKind {
    name: "certificates",
    singular: "certificate",
    endpoint_key: None,
    unique: &[],
    foreign: &[],
    composite_key: None,
    check: Some(super::tls::check_certificate),
};

/// SNIs go with their certificate (Kong's certificates DAO deletes them first).
pub static SNIS: EntityKind = EntityKind {
    name: "snis",
    singular: "sni",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[ForeignField {
        field: "certificate",
        target: "certificates",
        on_delete: OnDelete::Cascade,
    }],
    composite_key: None,
    check: None,
};

pub static CA_CERTIFICATES: EntityKind = EntityKind {
    name: "ca_certificates",
    singular: "ca_certificate",
    endpoint_key: None,
    unique: &["cert_digest"],
    foreign: &[],
    composite_key: None,
    check: Some(super::tls::check_ca_certificate),
};

/// A consumer's membership of a consumer group (Kong Enterprise's
/// `consumer_group_consumers`: primary key the pair, both references `on_delete =
/// "cascade"`); served only through the membership routes
/// ([`super::consumer_group_members`]).
pub static CONSUMER_GROUP_CONSUMERS: EntityKind = EntityKind {
    name: "consumer_group_consumers",
    singular: "consumer_group_consumer",
    endpoint_key: None,
    unique: &[],
    foreign: &[
        ForeignField {
            field: "consumer_group",
            target: "consumer_groups",
            on_delete: OnDelete::Cascade,
        },
        ForeignField {
            field: "consumer",
            target: "consumers",
            on_delete: OnDelete::Cascade,
        },
    ],
    composite_key: Some(super::consumer_group_members::MEMBERSHIP_KEY),
    check: None,
};

/// Key sets (kong/db/schema/entities/key_sets.lua): the name is unique. Its keys point
/// at it by their field `set`, so that is the singular `key-sets/{id}/keys` forces.
pub static KEY_SETS: EntityKind = EntityKind {
    name: "key_sets",
    singular: "set",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[],
    composite_key: None,
    check: None,
};

/// Keys (kong/db/schema/entities/keys.lua): the name is unique, a `kid` once per set, a
/// key goes with its set;
/// the JWK and PEM keys must load ([`super::keys`]).
pub static KEYS: EntityKind = EntityKind {
    name: "keys",
    singular: "key",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[ForeignField {
        field: "set",
        target: "key_sets",
        on_delete: OnDelete::Cascade,
    }],
    composite_key: Some(super::keys::KID_PER_SET),
    check: Some(super::keys::check_key),
};

/// Vaults (kong/db/schema/entities/vaults.lua): found and unique by prefix.
pub static VAULTS: EntityKind = EntityKind {
    name: "vaults",
    singular: "vault",
    endpoint_key: Some("prefix"),
    unique: &["prefix"],
    foreign: &[],
    composite_key: None,
    check: None,
};

pub static ALL: &[&EntityKind] = &[
    &SERVICES,
    &ROUTES,
    &CONSUMERS,
    &CONSUMER_GROUPS,
    &PLUGINS,
    &KEYAUTH_CREDENTIALS,
    &BASICAUTH_CREDENTIALS,
    &HMACAUTH_CREDENTIALS,
    &JWT_SECRETS,
    &ACLS,
    &UPSTREAMS,
    &TARGETS,
    &CERTIFICATES,
    &SNIS,
    &CA_CERTIFICATES,
    &CONSUMER_GROUP_CONSUMERS,
    &KEY_SETS,
    &KEYS,
    &VAULTS,
];

/// The rule for `field` of `kind` when its target is deleted.
pub fn on_delete(kind: &str, field: &str) -> OnDelete {
    ALL.iter()
        .find(|k| k.name == kind)
        .and_then(|k| k.foreign.iter().find(|f| f.field == field))
        .map_or(OnDelete::Restrict, |f| f.on_delete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_cascade_and_routes_restrict() {
        assert_eq!(on_delete("plugins", "service"), OnDelete::Cascade);
        assert_eq!(on_delete("routes", "service"), OnDelete::Restrict);
        assert_eq!(on_delete("unknown", "x"), OnDelete::Restrict);
        assert_eq!(
            on_delete("consumer_group_consumers", "consumer"),
            OnDelete::Cascade
        );
        assert_eq!(
            on_delete("consumer_group_consumers", "consumer_group"),
            OnDelete::Cascade
        );
    }

    #[test]
    fn the_kinds_with_rules_of_their_own() {
        let with_check: Vec<&str> = ALL
            .iter()
            .filter(|k| k.check.is_some())
            .map(|k| k.name)
            .collect();
        assert_eq!(
            with_check,
            [
                "routes",
                "plugins",
                "jwt_secrets",
                "targets",
                "certificates",
                "ca_certificates",
                "keys"
            ]
        );
        assert_eq!(PLUGINS.composite_key.as_ref().map(|k| k.key), Some("scope"));
    }
}
