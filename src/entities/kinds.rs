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

/// A rule of Kong's DAO for one kind, checked after the schema validated the entity
/// (it may read other entities of the control plane).
pub type Check =
    for<'a> fn(&'a Entities, Uuid, &'a Filled) -> BoxFuture<'a, Result<(), EntityError>>;

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
    foreign: &[],
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

pub static ALL: &[&EntityKind] = &[
    &SERVICES,
    &ROUTES,
    &CONSUMERS,
    &CONSUMER_GROUPS,
    &PLUGINS,
    &CONSUMER_GROUP_CONSUMERS,
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
    fn only_plugins_and_routes_have_rules_of_their_own() {
        let with_check: Vec<&str> = ALL
            .iter()
            .filter(|k| k.check.is_some())
            .map(|k| k.name)
            .collect();
        assert_eq!(with_check, ["routes", "plugins"]);
        assert_eq!(PLUGINS.composite_key.as_ref().map(|k| k.key), Some("scope"));
    }
}
