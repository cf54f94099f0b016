//! The `snis` shorthand of Kong's certificates DAO (`kong/db/dao/certificates.lua` and
//! `kong/db/dao/snis.lua`, Kong 3.10), which Konnect's `Certificate` carries too
//! (`snis`: an array of host names): a certificate write may name its SNIs, which are
//! created, kept or deleted with it, in one transaction here (Kong writes them one by
//! one after the certificate); and a certificate is answered with the sorted names of
//! its SNIs.

use serde_json::{Value, json};
use uuid::Uuid;

use super::EntityError;
use super::kinds::{CERTIFICATES, EntityKind, SNIS};
use super::record::{record_of, reference_id, write_refused};
use super::workflow::{Entities, Scope};
use crate::schema::filled::Filled;
use crate::schema::validate::Context;
use crate::store::core_entities::{EntityFilter, EntityRecord};

/// What a certificate write says of its SNIs, in the request's order.
#[derive(Debug)]
pub struct SniNames(Vec<String>);

/// Takes `snis` out of a certificate's body (Kong's schema has no such field: the DAO
/// removes it before the insert) as Kong's `parse_name_list` reads it: an array, or
/// `null` for none; absent leaves the SNIs as they are. A name given twice is Kong's
/// `<name> is duplicated`. Kong ignores a `snis` that is not an array; konnektd
/// refuses it, with the schema's words for a wrong type.
pub(super) fn take_sni_names(
    kind: &EntityKind,
    body: &mut Value,
) -> Result<Option<SniNames>, EntityError> {
    if kind.name != CERTIFICATES.name {
        return Ok(None);
    }
    let Some(given) = body.as_object_mut().and_then(|map| map.remove("snis")) else {
        return Ok(None);
    };
    let items = match given {
        Value::Null => return Ok(Some(SniNames(Vec::new()))),
        Value::Array(items) => items,
        _ => return Err(EntityError::field("snis", "expected an array")),
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::String(name) = item else {
            return Err(EntityError::field(
                format!("snis[{i}]"),
                "expected a string",
            ));
        };
        if names.contains(&name) {
            return Err(EntityError::field("snis", format!("{name} is duplicated")));
        }
        names.push(name);
    }
    Ok(Some(SniNames(names)))
}

/// A certificate's SNIs as stored: `(id, name)`.
type Stored = Vec<(String, String)>;

impl Entities {
    /// The SNIs of a certificate, every page of them.
    async fn stored_snis(
        &self,
        control_plane: Uuid,
        certificate: &str,
    ) -> Result<Stored, EntityError> {
        let filter = EntityFilter {
            parent: Some(("certificate", certificate.to_string())),
            ..EntityFilter::default()
        };
        let mut stored = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_entities(control_plane, SNIS.name, &filter, after.as_deref(), 1000)
                .await?;
            for sni in page.items {
                let text = |field: &str| sni.get(field).and_then(Value::as_str).map(str::to_string);
                if let (Some(id), Some(name)) = (text("id"), text("name")) {
                    stored.push((id, name));
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(stored),
            }
        }
    }

    /// Writes a certificate checked by the schema and its kind, and with it the SNIs
    /// `names` asks for: new names become SNIs, names of another certificate are Kong's
    /// refusal (`check_list_is_new`), and this certificate's SNIs not named are deleted
    /// (`update_list`). All in one transaction.
    pub(super) async fn write_certificate_with_snis(
        &self,
        scope: &Scope,
        certificate: Filled,
        replace: bool,
        names: SniNames,
    ) -> Result<Filled, EntityError> {
        let control_plane = scope.control_plane;
        let id = certificate
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut writes: Vec<(EntityRecord, bool)> =
            vec![(record_of(&CERTIFICATES, &certificate), replace)];
        for (i, name) in names.0.iter().enumerate() {
            if let Some(owner) = self.sni_owner(control_plane, name).await? {
                if owner != id {
                    return Err(EntityError::field(
                        "snis",
                        format!("{name} already associated with existing certificate '{owner}'"),
                    ));
                }
                continue;
            }
            let sni = json!({"name": name, "certificate": {"id": id}});
            let sni = self
                .check_entity(&SNIS, scope, sni, Context::Insert)
                .await
                .map_err(|e| at_sni(e, i))?;
            writes.push((record_of(&SNIS, &sni), false));
        }
        let dropped: Stored = if replace {
            self.stored_snis(control_plane, &id)
                .await?
                .into_iter()
                .filter(|(_, name)| !names.0.contains(name))
                .collect()
        } else {
            Vec::new()
        };
        let deletes: Vec<(&str, &str)> = dropped
            .iter()
            .map(|(sni, _)| (SNIS.name, sni.as_str()))
            .collect();
        match self
            .store
            .write_entities(control_plane, &writes, &deletes)
            .await
        {
            Ok(()) => Ok(certificate),
            // A name taken between the check and the write is the store's `name` clash
            // (neither kind has a composite key, so either words it the same).
            Err(e) => Err(write_refused(&CERTIFICATES, &writes[0].0, e)),
        }
    }

    /// The id of the certificate an SNI name belongs to, if the name is taken.
    async fn sni_owner(
        &self,
        control_plane: Uuid,
        name: &str,
    ) -> Result<Option<String>, EntityError> {
        let Some(sni) = self
            .store
            .entity_id_by_key(control_plane, SNIS.name, "name", name)
            .await?
        else {
            return Ok(None);
        };
        let body = self
            .store
            .entity_body(control_plane, SNIS.name, &sni)
            .await?;
        Ok(body
            .as_ref()
            .and_then(|b| reference_id(b.get("certificate")))
            .map(str::to_string))
    }

    /// An entity as answered: a certificate with `snis`, the sorted names of its SNIs
    /// (Kong's `select_with_name_list` and `page`); any other kind as it is.
    pub(super) async fn with_sni_names(
        &self,
        kind: &EntityKind,
        control_plane: Uuid,
        entity: Filled,
    ) -> Result<Filled, EntityError> {
        if kind.name != CERTIFICATES.name {
            return Ok(entity);
        }
        let mut entity = entity.into_value();
        let id = entity.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut names: Vec<String> = self
            .stored_snis(control_plane, id)
            .await?
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        names.sort();
        if let Value::Object(map) = &mut entity {
            map.insert("snis".into(), json!(names));
        }
        Ok(Filled::Value(entity))
    }
}

/// An SNI's refusal as the certificate's: its `name` is the request's `snis[i]`.
fn at_sni(error: EntityError, i: usize) -> EntityError {
    match error {
        EntityError::Invalid(mut details) => {
            for detail in &mut details {
                if detail.field.as_deref() == Some("name") {
                    detail.field = Some(format!("snis[{i}]"));
                }
            }
            EntityError::Invalid(details)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(body: Value) -> Result<Option<Vec<String>>, String> {
        let mut body = body;
        take_sni_names(&CERTIFICATES, &mut body)
            .map(|names| names.map(|n| n.0))
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn kongs_parse_name_list_reads_an_array_null_or_nothing() {
        assert_eq!(take(json!({"cert": "x"})), Ok(None));
        assert_eq!(take(json!({"snis": null})), Ok(Some(vec![])));
        assert_eq!(
            take(json!({"snis": ["b.com", "a.com"]})),
            Ok(Some(vec!["b.com".into(), "a.com".into()]))
        );
        let duplicated = take(json!({"snis": ["a.com", "b.com", "a.com"]})).unwrap_err();
        assert!(duplicated.contains("a.com is duplicated"), "{duplicated}");
        assert!(
            take(json!({"snis": "a.com"}))
                .unwrap_err()
                .contains("expected an array")
        );
        assert!(
            take(json!({"snis": ["a.com", 5]}))
                .unwrap_err()
                .contains("snis[1]")
        );
    }

    #[test]
    fn the_shorthand_is_the_certificates_only() {
        let mut body = json!({"snis": ["a.com"]});
        assert!(take_sni_names(&SNIS, &mut body).unwrap().is_none());
        assert_eq!(body, json!({"snis": ["a.com"]}));
        let mut body = json!({"cert": "x", "snis": ["a.com"]});
        take_sni_names(&CERTIFICATES, &mut body).unwrap();
        assert_eq!(body, json!({"cert": "x"}), "taken out of the certificate");
    }
}
