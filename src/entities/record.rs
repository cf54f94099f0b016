//! An entity on its way to the store and back: what the store keeps of it (its body and
//! what the store must enforce), how the store's refusals read in Koko's words, and what
//! the API answers.

use serde_json::Value;

use super::EntityError;
use super::kinds::EntityKind;
use crate::domain::Timestamp;
use crate::schema::errors::{DetailKind, ErrorDetail};
use crate::schema::filled::Filled;
use crate::store::core_entities::{DeleteError, EntityRecord, EntityRef, WriteError};

/// The id of a foreign key's value (`{"id": ...}`).
pub(super) fn reference_id(reference: Option<&Value>) -> Option<&str> {
    reference?.get("id")?.as_str()
}

/// What the store keeps of an entity: its body as JSON text, and what it must enforce.
pub(super) fn record_of(kind: &'static EntityKind, entity: &Filled) -> EntityRecord {
    let text = |field: &str| {
        entity
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // Kong's entities carry whole seconds.
    let at = |field: &str| {
        Timestamp::from_seconds(entity.get(field).and_then(Value::as_i64).unwrap_or(0))
    };
    let mut keys: Vec<(String, String)> = kind
        .unique
        .iter()
        .filter_map(|field| text(field).map(|v| (field.to_string(), v)))
        .collect();
    if let Some(composite) = &kind.composite_key {
        keys.push((composite.key.into(), (composite.value)(entity)));
    }
    let name = match kind.endpoint_key {
        Some(key) => text(key),
        None => text("name"),
    };
    let refs = kind
        .foreign
        .iter()
        .filter_map(|f| {
            reference_id(entity.get(f.field)).map(|id| EntityRef {
                field: f.field,
                target: f.target,
                id: id.to_string(),
            })
        })
        .collect();
    let tags = entity
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let id = text("id").unwrap_or_default();
    let (created_at, updated_at) = (at("created_at"), at("updated_at"));
    EntityRecord {
        kind: kind.name,
        id,
        name,
        body: serde_json::to_string(entity).expect("JSON with string keys always serializes"),
        keys,
        refs,
        tags,
        created_at,
        updated_at,
    }
}

/// The store's refusal of `record`, as Koko words it.
pub(super) fn write_refused(
    kind: &EntityKind,
    record: &EntityRecord,
    error: WriteError,
) -> EntityError {
    let clash = |field: Option<String>, message: String| {
        EntityError::constraint(ErrorDetail {
            kind: DetailKind::Reference,
            field,
            messages: vec![message],
        })
    };
    match error {
        WriteError::IdTaken => clash(
            Some("id".into()),
            format!(
                "id (type: unique) constraint failed for value '{}': ",
                record.id
            ),
        ),
        // Koko's `ErrConstraint` text (internal/store).
        WriteError::KeyTaken { key, value } => {
            let (index, field) = match &kind.composite_key {
                Some(composite) if composite.key == key => (composite.index, None),
                _ => (key.as_str(), Some(key.clone())),
            };
            clash(
                field,
                format!("{index} (type: unique) constraint failed for value '{value}': "),
            )
        }
        // Kong's `foreign_key_violation_invalid_reference` text.
        WriteError::MissingTarget(reference) => clash(
            Some(format!("{}.id", reference.field)),
            format!(
                "the foreign key '{{id=\"{}\"}}' does not reference an existing '{}' entity.",
                reference.id, reference.target
            ),
        ),
        WriteError::NoControlPlane => EntityError::ControlPlaneNotFound,
        WriteError::Store(e) => e.into(),
    }
}

/// The store's refusal to delete an entity of `kind`, as Kong words it.
pub(super) fn delete_refused(kind: &EntityKind, error: DeleteError) -> EntityError {
    match error {
        // Kong's `foreign_key_violation_restricted`.
        DeleteError::Referenced(by) => EntityError::constraint(ErrorDetail {
            kind: DetailKind::Reference,
            field: None,
            messages: vec![format!(
                "an existing '{by}' entity references this '{}' entity",
                kind.name
            )],
        }),
        DeleteError::Store(e) => e.into(),
    }
}

/// An entity as the API answers with it: Konnect leaves unset fields out, those of
/// nested records too (`"ordering": {}` stays `{}`), since Koko marshals typed protobuf
/// messages (docs/api.md, konnektd's decision 6). A `config` is a `google.protobuf.Struct`
/// there, which keeps its nulls: Konnect's own plugin example answers
/// `"config": {"anonymous": null, ...}` (Kong/developer.konghq.com,
/// `api-specs/konnect/control-planes-config/v2/openapi.yaml`, `Plugin`).
pub(super) fn present(entity: impl Into<Filled>) -> Filled {
    let mut entity = entity.into();
    entity.drop_nulls_deep(&["config"]);
    entity
}
