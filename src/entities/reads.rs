//! `GET /{collection}/{id or name}` of a top-level collection in one round trip, answered
//! from the stored text: the store reads the entity and its control plane together
//! (`store/entity_reads.rs`), so a missing or hidden control plane is still a 404 of its
//! own without a lookup first; and the stored body, already JSON, is copied into the
//! answer field by field rather than parsed into a tree and encoded again.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::credentials::scoped_key_value;
use super::kinds::CERTIFICATES;
use super::plugins::not_validated_note;
use super::record::present;
use super::{Entities, EntityError, EntityKind};
use crate::schema::filled::Filled;
use crate::store::StoreError;
use crate::store::entity_reads::EntityRead;

/// One entity as the API answers it: its JSON text, and the note a plugin konnektd
/// cannot validate carries (`not_validated_note`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub json: Vec<u8>,
    pub note: Option<String>,
}

impl Entities {
    /// `GET /{collection}/{id or name}` outside any parent.
    pub async fn read_entity(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        id_or_name: &str,
    ) -> Result<Presented, EntityError> {
        let read = if Uuid::parse_str(id_or_name).is_ok() {
            // A UUID is only ever an id (Kong `endpoints.lua` `query_entity`).
            self.store
                .read_entity_by_id(control_plane, kind.name, id_or_name)
                .await?
        } else if let Some(key) = kind.endpoint_key {
            self.store
                .read_entity_by_key(
                    control_plane,
                    kind.name,
                    key,
                    &scoped_key_value(kind, None, id_or_name),
                )
                .await?
        } else {
            // A name where only ids fit: the control plane's 404 first, then the 400.
            let scope = self.resolve_scope(control_plane, None).await?;
            let entity = self.get_entity(kind, &scope, id_or_name).await?;
            return Ok(presented_tree(kind, entity));
        };
        match read {
            EntityRead::NoControlPlane => Err(EntityError::ControlPlaneNotFound),
            EntityRead::NoEntity => Err(EntityError::NotFound),
            EntityRead::Body(text) if kind.name == CERTIFICATES.name => {
                // Its answer carries its SNIs' names, read from their own rows.
                let body: Value =
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let entity = self
                    .with_sni_names(kind, control_plane, present(body))
                    .await?;
                Ok(presented_tree(kind, entity))
            }
            EntityRead::Body(text) => presented(kind, &text),
        }
    }
}

/// The answer to a stored body: copied through when it can be, else through the tree.
pub fn presented(kind: &EntityKind, stored: &str) -> Result<Presented, EntityError> {
    if let Some(copied) = copied_through(kind, stored) {
        return Ok(copied);
    }
    let body: Value =
        serde_json::from_str(stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(presented_tree(kind, present(body)))
}

fn presented_tree(kind: &EntityKind, entity: Filled) -> Presented {
    Presented {
        note: not_validated_note(kind, &entity),
        json: serde_json::to_vec(&entity).expect("JSON with string keys always serializes"),
    }
}

/// What [`present`] then encoding would give, made from the stored text itself: its
/// top-level fields in key order (a stored body is an object serde_json wrote, so each
/// field's text is what encoding its value again would give), the null ones left out.
/// `None` when a field other than `config` holds an object or array that may hold a null
/// (present drops nulls at every depth outside `config`): the tree does that case.
fn copied_through(kind: &EntityKind, stored: &str) -> Option<Presented> {
    let fields: BTreeMap<String, &RawValue> = serde_json::from_str(stored).ok()?;
    let mut json = Vec::with_capacity(stored.len());
    json.push(b'{');
    for (key, raw) in &fields {
        let text = raw.get();
        if text == "null" {
            continue;
        }
        if key != "config" && text.starts_with(['{', '[']) && text.contains("null") {
            return None;
        }
        if json.len() > 1 {
            json.push(b',');
        }
        serde_json::to_writer(&mut json, key).ok()?;
        json.push(b':');
        json.extend_from_slice(text.as_bytes());
    }
    json.push(b'}');
    let note = match fields.get("name") {
        Some(name) if kind.name == super::kinds::PLUGINS.name => {
            let name: String = serde_json::from_str(name.get()).ok()?;
            not_validated_note(kind, &Filled::from(serde_json::json!({ "name": name })))
        }
        _ => None,
    };
    Some(Presented { json, note })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::entities::kinds::{PLUGINS, SERVICES, UPSTREAMS};

    /// The answer the tree gives: what `get_entity` answers.
    fn by_tree(kind: &EntityKind, stored: &str) -> Presented {
        presented_tree(
            kind,
            present(serde_json::from_str::<Value>(stored).unwrap()),
        )
    }

    #[test]
    fn a_plugin_is_copied_through_with_its_nulls_dropped_but_those_of_config_kept() {
        let stored = json!({"name": "correlation-id", "id": "a", "route": null,
            "config": {"header_name": "X", "generator": null}, "protocols": ["http"],
            "enabled": true, "created_at": 1, "instance_name": null, "ordering": null});
        let stored = serde_json::to_string(&stored).unwrap();
        let copied = copied_through(&PLUGINS, &stored).expect("copied");
        assert_eq!(copied, by_tree(&PLUGINS, &stored));
        assert_eq!(
            String::from_utf8(copied.json).unwrap(),
            r#"{"config":{"generator":null,"header_name":"X"},"created_at":1,"enabled":true,"id":"a","name":"correlation-id","protocols":["http"]}"#
        );
    }

    #[test]
    fn a_nested_null_outside_config_goes_through_the_tree() {
        let stored = serde_json::to_string(&json!({"name": "u", "healthchecks":
            {"active": {"headers": null, "timeout": 1}}}))
        .unwrap();
        assert_eq!(copied_through(&UPSTREAMS, &stored), None);
        let answer = presented(&UPSTREAMS, &stored).unwrap();
        assert_eq!(answer, by_tree(&UPSTREAMS, &stored));
        assert_eq!(
            String::from_utf8(answer.json).unwrap(),
            r#"{"healthchecks":{"active":{"timeout":1}},"name":"u"}"#
        );
    }

    #[test]
    fn a_plugin_konnektd_cannot_validate_carries_its_note_either_way() {
        // An Enterprise plugin: bundled with Kong, its schema not public.
        let stored =
            serde_json::to_string(&json!({"name": "openid-connect", "config": {}})).unwrap();
        let copied = copied_through(&PLUGINS, &stored).expect("copied");
        assert!(copied.note.is_some());
        assert_eq!(copied, by_tree(&PLUGINS, &stored));
        // A service named like one is no plugin.
        let stored = serde_json::to_string(&json!({"name": "openid-connect"})).unwrap();
        assert_eq!(copied_through(&SERVICES, &stored).unwrap().note, None);
    }

    #[test]
    fn a_corrupt_body_is_a_store_error() {
        assert!(matches!(
            presented(&SERVICES, "{\"name\":"),
            Err(EntityError::Store(StoreError::Corrupt(_)))
        ));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // serde_json parses some long floats to a neighbour (without its
            // `float_roundtrip`): there the copy answers the stored digits, the tree
            // the neighbour's. Kong's numbers are short; the rest are equal.
            any::<f64>()
                .prop_filter("finite, read back as written", |f| {
                    f.is_finite()
                        && serde_json::from_str::<f64>(&serde_json::to_string(f).unwrap()).unwrap()
                            == *f
                })
                .prop_map(Value::from),
            "[a-z\"\\\\\u{e9}\u{1f600}\n/]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z\"_]{1,4}|config|name", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever serde_json stored, the copy answers what the tree answers, or
        /// leaves it to the tree.
        #[test]
        fn the_copy_answers_what_the_tree_answers(
            fields in prop::collection::btree_map("[a-z\"_\u{e9}]{1,5}|config|name", json_value(), 0..8),
            kind in prop_oneof![Just(&PLUGINS), Just(&SERVICES)],
        ) {
            let stored = serde_json::to_string(&Value::Object(fields.into_iter().collect())).unwrap();
            let answer = presented(kind, &stored).unwrap();
            prop_assert_eq!(&answer, &by_tree(kind, &stored));
            if let Some(copied) = copied_through(kind, &stored) {
                prop_assert_eq!(copied, answer);
            }
        }
    }
}
