//! Plugins' rules outside their schema (Kong's `kong/db/dao/plugins.lua`): one plugin of
//! a name per scope, a plugin on a route shares one of its protocols; and the dry run
//! of a plugin write (`POST /schemas/plugins/validate`).

use futures_util::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::kinds::{CompositeKey, EntityKind, PLUGINS, ROUTES};
use super::record::reference_id;
use super::workflow::{Scope, scoped_input};
use super::{Entities, EntityError};
use crate::domain::bundled_plugins::is_bundled;
use crate::lua::plugins::bundled_schema_source;
use crate::schema::filled::Filled;
use crate::schema::validate::Context;

/// Plugins are unique per name and scope (Kong's plugins `cache_key`, plus Konnect's
/// consumer groups); Koko names the clash `unique-plugin-per-entity`.
pub const SCOPE_KEY: CompositeKey = CompositeKey {
    key: "scope",
    index: "unique-plugin-per-entity",
    value: scope_key_of,
};

fn scope_key_of(plugin: &Filled) -> String {
    let name = plugin.get("name").and_then(Value::as_str).unwrap_or("");
    let scope =
        ["service", "route", "consumer", "consumer_group"].map(|f| reference_id(plugin.get(f)));
    plugin_scope_key(name, scope)
}

/// The key that makes a plugin unique per scope: name and the four scope ids, empty when
/// unset.
pub fn plugin_scope_key(name: &str, scope: [Option<&str>; 4]) -> String {
    let mut key = name.to_string();
    for id in scope {
        key.push(':');
        key.push_str(id.unwrap_or(""));
    }
    key
}

/// The plugins' [`super::kinds::Check`].
pub(super) fn check<'a>(
    entities: &'a Entities,
    control_plane: Uuid,
    plugin: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(check_route_protocols(entities, control_plane, plugin))
}

/// Kong's plugins DAO: a plugin on a route must share one of its protocols.
async fn check_route_protocols(
    entities: &Entities,
    control_plane: Uuid,
    plugin: &Filled,
) -> Result<(), EntityError> {
    let Some(route_id) = reference_id(plugin.get("route")) else {
        return Ok(());
    };
    let Some(route) = entities
        .store
        .entity_body(control_plane, ROUTES.name, route_id)
        .await?
    else {
        return Ok(());
    };
    let protocols = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let route_protocols = protocols(route.get("protocols"));
    if protocols(plugin.get("protocols"))
        .iter()
        .any(|p| route_protocols.contains(p))
    {
        return Ok(());
    }
    Err(EntityError::field(
        "protocols",
        "must match the associated route's protocols",
    ))
}

/// What an answer says of a plugin konnektd stores unvalidated: a plugin bundled with
/// Kong Enterprise or Konnect, whose schema is not public. `None` for anything else.
pub fn not_validated_note(kind: &EntityKind, entity: &Filled) -> Option<String> {
    if kind.name != PLUGINS.name {
        return None;
    }
    let name = entity.get("name")?.as_str()?;
    (is_bundled(name) && bundled_schema_source(name).is_none()).then(|| {
        format!(
            "plugin '{name}' is not validated: its schema is not public, so konnektd stores its config as given"
        )
    })
}

impl Entities {
    /// `POST /schemas/plugins/validate`: every error at once; nothing is stored.
    pub async fn validate_plugin(
        &self,
        control_plane: Uuid,
        body: Value,
    ) -> Result<(), EntityError> {
        self.ensure_control_plane(control_plane).await?;
        let scope = Scope {
            control_plane,
            parent: None,
        };
        let input = scoped_input(&PLUGINS, &scope, body)?;
        self.check_entity(&PLUGINS, &scope, input, Context::Insert)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str) -> Filled {
        Filled::from(serde_json::json!({"name": name, "config": {}}))
    }

    #[test]
    fn only_plugins_without_a_public_schema_are_noted() {
        let note = not_validated_note(&PLUGINS, &plugin("openid-connect")).unwrap();
        assert_eq!(
            note,
            "plugin 'openid-connect' is not validated: its schema is not public, so konnektd stores its config as given"
        );
        assert_eq!(not_validated_note(&PLUGINS, &plugin("key-auth")), None);
        assert_eq!(not_validated_note(&PLUGINS, &plugin("ping-auth")), None);
        assert_eq!(
            not_validated_note(&super::super::kinds::SERVICES, &plugin("openid-connect")),
            None
        );
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
