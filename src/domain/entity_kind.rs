//! The core entities a control plane holds and the rules Kong applies to them outside
//! their schemas (`kong/db/dao/*.lua`, `kong/api/endpoints.lua`): lookup keys, unique
//! fields, foreign fields and what deleting their target does (src/lua/entities/NOTES.md).

/// What deleting a referenced entity does to the entities that point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete fails while references remain (Kong's default).
    Restrict,
    /// The referencing entities go too.
    Cascade,
}

/// A `foreign` field: `{ "id": ... }` pointing at another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignField {
    pub field: &'static str,
    pub target: &'static str,
    pub on_delete: OnDelete,
}

#[derive(Debug, PartialEq, Eq)]
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
}

pub static SERVICES: EntityKind = EntityKind {
    name: "services",
    singular: "service",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[],
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
};

pub static CONSUMERS: EntityKind = EntityKind {
    name: "consumers",
    singular: "consumer",
    endpoint_key: Some("username"),
    unique: &["username", "custom_id"],
    foreign: &[],
};

pub static CONSUMER_GROUPS: EntityKind = EntityKind {
    name: "consumer_groups",
    singular: "consumer_group",
    endpoint_key: Some("name"),
    unique: &["name"],
    foreign: &[],
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
};

pub static ALL: &[&EntityKind] = &[&SERVICES, &ROUTES, &CONSUMERS, &CONSUMER_GROUPS, &PLUGINS];

/// The rule for `field` of `kind` when its target is deleted.
pub fn on_delete(kind: &str, field: &str) -> OnDelete {
    ALL.iter()
        .find(|k| k.name == kind)
        .and_then(|k| k.foreign.iter().find(|f| f.field == field))
        .map_or(OnDelete::Restrict, |f| f.on_delete)
}

/// The key that makes a plugin unique per scope (Kong's plugins `cache_key`, plus
/// Konnect's consumer groups): name and the four scope ids, empty when unset.
pub fn plugin_scope_key(name: &str, scope: [Option<&str>; 4]) -> String {
    let mut key = name.to_string();
    for id in scope {
        key.push(':');
        key.push_str(id.unwrap_or(""));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_cascade_and_routes_restrict() {
        assert_eq!(on_delete("plugins", "service"), OnDelete::Cascade);
        assert_eq!(on_delete("routes", "service"), OnDelete::Restrict);
        assert_eq!(on_delete("unknown", "x"), OnDelete::Restrict);
    }

    #[test]
    fn the_scope_key_tells_global_from_scoped() {
        assert_eq!(plugin_scope_key("p", [None; 4]), "p::::");
        assert_eq!(
            plugin_scope_key("p", [Some("s"), None, None, None]),
            "p:s:::"
        );
    }
}
