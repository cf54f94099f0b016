//! The CRUD workflow every core-entity resource shares: resolve the path's id or name,
//! check the entity (its schema, then its kind's rules), write it through the store
//! (which publishes the change to the data planes) and answer what was stored.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use super::EntityError;
use super::certificate_snis::{SniNames, take_sni_names};
use super::credentials::{scoped_key_value, sets_password, transformed};
use super::kinds::{self, EntityKind};
use super::list::ListRequest;
use super::record::{delete_refused, present, record_of, reference_id, write_refused};
use crate::domain::Timestamp;
use crate::lua::runner::LuaRunner;
use crate::lua::schema_cache::SchemaCache;
use crate::schema::filled::Filled;
use crate::schema::merge::merge_values;
use crate::schema::validate::{Context, Engine};
use crate::store::Store;
use crate::store::core_entities::EntityFilter;

/// The core entities of every control plane: where they are stored and what validates
/// them.
#[derive(Debug)]
pub struct Entities {
    pub(super) store: Store,
    pub(super) lua: Arc<LuaRunner>,
    /// Schemas kept ready for validation, with their warm Lua VMs.
    pub(super) schemas: Arc<SchemaCache>,
}

/// Where a request operates: a control plane, and for nested collections
/// (`/services/{id}/plugins`) the parent the entities must point at.
#[derive(Debug, Clone)]
pub struct Scope {
    pub control_plane: Uuid,
    pub parent: Option<Parent>,
}

#[derive(Debug, Clone)]
pub struct Parent {
    pub kind: &'static EntityKind,
    pub id: String,
}

impl Parent {
    /// The foreign field of a child that points at this parent (`service`).
    pub fn field(&self) -> &'static str {
        self.kind.singular
    }
}

/// A page of a list: Kong's `{data, next, offset}`.
pub struct Listing {
    pub data: Vec<Filled>,
    pub next_offset: Option<String>,
}

impl Entities {
    pub fn new(store: Store, lua: Arc<LuaRunner>, schemas: Arc<SchemaCache>) -> Self {
        Entities {
            store,
            lua,
            schemas,
        }
    }

    pub async fn ensure_control_plane(&self, control_plane: Uuid) -> Result<(), EntityError> {
        if self.store.control_plane_exists(control_plane).await? {
            Ok(())
        } else {
            Err(EntityError::ControlPlaneNotFound)
        }
    }

    /// The id of the entity an `{id or name}` path segment names, anywhere in the control
    /// plane (whatever its parent), if it exists: one read. A UUID is only ever an id
    /// (Kong `endpoints.lua` `query_entity`).
    pub(super) async fn id_by_id_or_name(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        parent: Option<&str>,
        id_or_name: &str,
    ) -> Result<Option<String>, EntityError> {
        if Uuid::parse_str(id_or_name).is_ok() {
            let found = self
                .store
                .entity_body(control_plane, kind.name, id_or_name)
                .await?;
            return Ok(found.map(|_| id_or_name.to_string()));
        }
        match kind.endpoint_key {
            Some(key) => Ok(self
                .store
                .entity_id_by_key(
                    control_plane,
                    kind.name,
                    key,
                    &scoped_key_value(kind, parent, id_or_name),
                )
                .await?),
            // A 400 in Koko's envelope (Kong/koko's GetPlugin reads by id only; the words
            // are konnektd's own) that says why: this kind has no endpoint key, so a name
            // never fits here.
            None => Err(EntityError::BadRequest(format!(
                "'{id_or_name}' is not a valid uuid: {} are addressed by id only",
                kind.name
            ))),
        }
    }

    /// The id and stored body of the entity an `{id or name}` path segment names, anywhere
    /// in the control plane (whatever its parent): one read for an id, two for a name.
    pub(super) async fn entity_by_id_or_name(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        parent: Option<&str>,
        id_or_name: &str,
    ) -> Result<Option<(String, Value)>, EntityError> {
        let id = if Uuid::parse_str(id_or_name).is_ok() {
            id_or_name.to_string()
        } else {
            match self
                .id_by_id_or_name(kind, control_plane, parent, id_or_name)
                .await?
            {
                Some(id) => id,
                None => return Ok(None),
            }
        };
        let entity = self
            .store
            .entity_body(control_plane, kind.name, &id)
            .await?;
        Ok(entity.map(|e| (id, e)))
    }

    /// The id and stored body of the entity an `{id or name}` path segment names, if it is
    /// in `scope` (under the scope's parent, for a nested collection).
    async fn entity_in_scope(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<Option<(String, Value)>, EntityError> {
        let parent = scope.parent.as_ref().map(|p| p.id.as_str());
        let found = self
            .entity_by_id_or_name(kind, scope.control_plane, parent, id_or_name)
            .await?;
        Ok(found.filter(|(_, e)| match &scope.parent {
            None => true,
            Some(parent) => reference_id(e.get(parent.field())) == Some(parent.id.as_str()),
        }))
    }

    /// The scope a request's path names: its control plane, and for a nested collection
    /// the parent, by id or name, resolved to its id. 404 when either does not exist.
    pub async fn resolve_scope(
        &self,
        control_plane: Uuid,
        parent: Option<(&'static EntityKind, &str)>,
    ) -> Result<Scope, EntityError> {
        let parent = match parent {
            None => {
                self.ensure_control_plane(control_plane).await?;
                None
            }
            // A parent found in this control plane proves the control plane exists.
            Some((kind, id_or_name)) => {
                match self
                    .id_by_id_or_name(kind, control_plane, None, id_or_name)
                    .await?
                {
                    Some(id) => Some(Parent { kind, id }),
                    None => {
                        self.ensure_control_plane(control_plane).await?;
                        return Err(EntityError::NotFound);
                    }
                }
            }
        };
        Ok(Scope {
            control_plane,
            parent,
        })
    }

    /// `POST /{collection}`: the stored entity.
    ///
    /// A top-level create does not look the control plane up first: the insert's foreign
    /// key proves it exists in the write's own transaction, and only a request that fails
    /// pays for the lookup (so a missing control plane is still a 404 rather than
    /// whatever the body would have earned, a certificate's SNI names included).
    pub async fn create_entity(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        parent: Option<(&'static EntityKind, &str)>,
        mut body: Value,
    ) -> Result<Filled, EntityError> {
        let scope = match parent {
            None => Scope {
                control_plane,
                parent: None,
            },
            Some(_) => self.resolve_scope(control_plane, parent).await?,
        };
        let sets_password = sets_password(kind, &body);
        let checked = async {
            let snis = take_sni_names(kind, &mut body)?;
            let mut input = scoped_input(kind, &scope, body)?;
            // Kong's schema lets `"id": null` through an insert (`process_auto_fields`
            // generates an id only when it is absent) and its database then refuses the
            // row. Konnect decodes the body into protobuf, where `null` is unset, and gives
            // the entity a new id: so does konnektd.
            if let Value::Object(map) = &mut input
                && map.get("id").is_some_and(Value::is_null)
            {
                map.remove("id");
            }
            let entity = self
                .check_entity(kind, &scope, input, Context::Insert)
                .await?;
            let entity = transformed(kind, sets_password, entity);
            match snis {
                // The names are checked as the certificate is written.
                Some(names) => {
                    self.write_certificate_with_snis(&scope, entity, false, names)
                        .await
                }
                None => self.write(kind, &scope, entity, false).await,
            }
        };
        let entity = match checked.await {
            Ok(entity) => entity,
            // A store that cannot answer is the answer: asking it again would only double
            // the wait before the 503.
            Err(e @ EntityError::Store(_)) => return Err(e),
            Err(e) => {
                if parent.is_none() {
                    self.ensure_control_plane(control_plane).await?;
                }
                return Err(e);
            }
        };
        self.with_sni_names(kind, control_plane, present(entity))
            .await
    }

    /// `PUT /{collection}/{id or name}`: creates or replaces.
    pub async fn put_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
        mut body: Value,
    ) -> Result<Filled, EntityError> {
        let snis = take_sni_names(kind, &mut body)?;
        let sets_password = sets_password(kind, &body);
        let mut input = scoped_input(kind, scope, body)?;
        // Unscoped: a PUT under another parent moves the entity and keeps its history.
        let parent = scope.parent.as_ref().map(|p| p.id.as_str());
        let existing = self
            .entity_by_id_or_name(kind, scope.control_plane, parent, id_or_name)
            .await?;
        let (id, existing) = match existing {
            Some((id, existing)) => (id, Some(existing)),
            None => match Uuid::parse_str(id_or_name) {
                Ok(uuid) => (uuid.to_string(), None),
                Err(_) => (Uuid::new_v4().to_string(), None),
            },
        };
        if let Value::Object(map) = &mut input {
            map.insert("id".into(), json!(id));
            if Uuid::parse_str(id_or_name).is_err()
                && let Some(key) = kind.endpoint_key
            {
                map.insert(key.into(), json!(id_or_name));
            }
            if let Some(created) = existing.as_ref().and_then(|e| e.get("created_at")) {
                map.insert("created_at".into(), created.clone());
            }
        }
        self.replace_checked(kind, scope, input, sets_password, snis)
            .await
    }

    /// `PATCH /{collection}/{id or name}`: Kong's merge of the changes into the stored
    /// entity, then a full check.
    pub async fn patch_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
        mut body: Value,
    ) -> Result<Filled, EntityError> {
        let snis = take_sni_names(kind, &mut body)?;
        let sets_password = sets_password(kind, &body);
        let changes = scoped_input(kind, scope, body)?;
        let (id, existing) = self
            .entity_in_scope(kind, scope, id_or_name)
            .await?
            .ok_or(EntityError::NotFound)?;
        let choice = self
            .schema_choice(kind, scope.control_plane, &existing)
            .await?;
        let stored = existing.clone();
        let mut merged = self
            .with_schema(&choice, move |schema, _| {
                merge_values(schema, &changes, &stored)
            })
            .await?;
        if let Value::Object(map) = &mut merged {
            map.insert("id".into(), json!(id));
        }
        self.replace_checked(kind, scope, merged, sets_password, snis)
            .await
    }

    /// The end of a PUT or PATCH: the whole entity checked as an upsert, stored in
    /// place of any entity with its id, and answered.
    async fn replace_checked(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        entity: Value,
        sets_password: bool,
        snis: Option<SniNames>,
    ) -> Result<Filled, EntityError> {
        let entity = self
            .check_entity(kind, scope, entity, Context::Upsert)
            .await?;
        let entity = transformed(kind, sets_password, entity);
        let entity = match snis {
            Some(names) => {
                self.write_certificate_with_snis(scope, entity, true, names)
                    .await?
            }
            None => self.write(kind, scope, entity, true).await?,
        };
        self.with_sni_names(kind, scope.control_plane, present(entity))
            .await
    }

    /// `GET /{collection}/{id or name}`.
    pub async fn get_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<Filled, EntityError> {
        let (_, entity) = self
            .entity_in_scope(kind, scope, id_or_name)
            .await?
            .ok_or(EntityError::NotFound)?;
        self.with_sni_names(kind, scope.control_plane, present(entity))
            .await
    }

    /// `DELETE /{collection}/{id or name}`: done whether or not it existed.
    pub async fn delete_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<(), EntityError> {
        let Some((id, _)) = self.entity_in_scope(kind, scope, id_or_name).await? else {
            return Ok(());
        };
        if kind.name == kinds::CA_CERTIFICATES.name {
            self.ca_certificate_unused(scope.control_plane, &id).await?;
        }
        self.store
            .delete_entity(scope.control_plane, kind.name, &id, kinds::on_delete)
            .await
            .map_err(|e| delete_refused(kind, e))?;
        Ok(())
    }

    /// `GET /{collection}`: one page, in id order.
    pub async fn list_entities(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        request: ListRequest,
    ) -> Result<Listing, EntityError> {
        let filter = EntityFilter {
            parent: scope.parent.as_ref().map(|p| (p.field(), p.id.clone())),
            tags: request.tags,
            name_eq: request.name_eq,
            name_contains: request.name_contains,
            ..EntityFilter::default()
        };
        let page = self
            .store
            .list_entities(
                scope.control_plane,
                kind.name,
                &filter,
                request.offset.as_deref(),
                request.size,
            )
            .await?;
        let mut data: Vec<Filled> = page.items.into_iter().map(present).collect();
        if kind.name == kinds::CERTIFICATES.name {
            for item in &mut data {
                let entity = std::mem::replace(item, Filled::Value(Value::Null));
                *item = self
                    .with_sni_names(kind, scope.control_plane, entity)
                    .await?;
            }
        }
        Ok(Listing {
            data,
            next_offset: page.next_after,
        })
    }

    /// `POST /schemas/{entity}/validate`: the checks of a create, every error at once;
    /// nothing is stored. A name that is not a kind with a schema is a 404.
    pub async fn validate_entity(
        &self,
        name: &str,
        control_plane: Uuid,
        body: Value,
    ) -> Result<(), EntityError> {
        let kind = kinds::ALL
            .iter()
            .copied()
            .find(|k| {
                k.name == name
                    && (k.name == kinds::PLUGINS.name
                        || crate::lua::entities::schema_source(k.name).is_some())
            })
            .ok_or_else(|| {
                EntityError::Missing(format!("no schema for an entity named '{name}'"))
            })?;
        self.ensure_control_plane(control_plane).await?;
        let scope = Scope {
            control_plane,
            parent: None,
        };
        let input = scoped_input(kind, &scope, body)?;
        self.check_entity(kind, &scope, input, Context::Insert)
            .await
            .map(|_| ())
    }

    /// Kong's DAO check for a write: defaults and auto fields, then full validation,
    /// then the rules of its kind outside the schema.
    pub(super) async fn check_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        input: Value,
        context: Context,
    ) -> Result<Filled, EntityError> {
        let choice = self
            .schema_choice(kind, scope.control_plane, &input)
            .await?;
        let steps = self.lua.limits().pattern_steps;
        let now = Timestamp::now().seconds_f64();
        let mut entity = self
            .with_schema(&choice, move |schema, functions| {
                Engine::new(functions, steps, now).check_filled(schema, input, context)
            })
            .await?
            .map_err(|e| EntityError::schema(&e))?;
        if let Some(check) = kind.check {
            check(self, scope.control_plane, &mut entity).await?;
        }
        Ok(entity)
    }

    /// Stores `entity` and gives it back, so that the response is built from it without
    /// a copy. The store publishes the change when it commits.
    async fn write(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        entity: Filled,
        replace: bool,
    ) -> Result<Filled, EntityError> {
        let record = record_of(kind, &entity);
        if record.id.is_empty() {
            // Never reached through the API (creates are given an id, PUT and PATCH take
            // the path's): a row without an id could be neither read nor deleted.
            return Err(EntityError::field("id", "required field missing"));
        }
        match self
            .store
            .write_entity(scope.control_plane, &record, replace)
            .await
        {
            Ok(()) => Ok(entity),
            Err(e) => Err(write_refused(kind, &record, e)),
        }
    }
}

/// The request body as the entity to check: an object, with a nested collection's
/// parent forced in (Kong's nested endpoints set the foreign key from the path).
pub(super) fn scoped_input(
    kind: &EntityKind,
    scope: &Scope,
    body: Value,
) -> Result<Value, EntityError> {
    let Value::Object(mut map) = body else {
        return Err(EntityError::BadRequest(
            "request body must be a JSON object".into(),
        ));
    };
    if let Some(parent) = &scope.parent
        && kind.foreign.iter().any(|f| f.field == parent.field())
    {
        map.insert(parent.field().into(), json!({"id": parent.id}));
    }
    map.values_mut().for_each(whole_numbers_as_integers);
    Ok(Value::Object(map))
}

/// `8080.0` becomes `8080`, as it does in Kong: Lua has one number type, and its JSON
/// encoder (lua-cjson, `%.14g`) writes an integral number without a fraction, so Kong
/// stores and answers `"port": 8080` for `8080.0`. Numbers beyond 2^53 stay as given.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}
