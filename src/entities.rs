//! The core-entity workflow every resource shares (services, routes, consumers, consumer
//! groups, plugins): resolve the path's id or name, pick the entity's schema, validate
//! with Kong's semantics (on the Lua pool when the schema has functions), write through
//! the store, and answer Konnect's bare object with unset fields left out.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::App;
use crate::domain::bundled_plugins::is_bundled;
use crate::domain::entity_kind::{self, EntityKind, PLUGINS, ROUTES, plugin_scope_key};
use crate::error::ApiError;
use crate::lua::compiled::{Builder, Ready, SchemaCache};
use crate::lua::runner::RunnerError;
use crate::schema::definition::Schema;
use crate::schema::errors::{DetailKind, ErrorDetail, Errors, details};
use crate::schema::filled::Filled;
use crate::schema::merge::merge_values;
use crate::schema::plugin_entity::{opaque_plugin_schema, plugin_entity_schema};
use crate::schema::validate::{Context, Engine, Functions, NoFunctions};
use crate::schema::value::SchemaValue;
use crate::store::core_entities::{
    DeleteError, EntityFilter, EntityRecord, EntityRef, TagFilter, WriteError,
};

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

/// Which schema validates an entity, and how to build it from the evaluated source.
#[derive(Clone)]
struct SchemaChoice {
    /// Whose schema it is: the control plane for uploads, none for konnektd's own.
    owner: Arc<str>,
    source: Arc<str>,
    build: Builder,
}

/// Bundled plugins konnektd has no schema for are checked on their base fields only.
const OPAQUE_SOURCE: &str = "return {}";

fn entity_schema(value: &SchemaValue) -> Result<Schema, String> {
    Schema::parse(value, true).map_err(|e| e.to_string())
}

fn validation_error(errors: &Errors) -> ApiError {
    ApiError::Rejected {
        message: "validation error".into(),
        details: details(errors),
    }
}

fn constraint_error(detail: ErrorDetail) -> ApiError {
    ApiError::Rejected {
        message: "data constraint error".into(),
        details: vec![detail],
    }
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Rejected {
        message: "validation error".into(),
        details: vec![ErrorDetail::field(field, message)],
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound(String::new())
}

impl App {
    pub async fn ensure_control_plane(&self, control_plane: Uuid) -> Result<(), ApiError> {
        if self.store.control_plane_exists(control_plane).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound("control plane not found".into()))
        }
    }

    /// The id an `{id or name}` path segment names, if such an entity exists. A UUID is
    /// only ever an id (Kong `endpoints.lua` `query_entity`).
    pub async fn resolve_entity(
        &self,
        control_plane: Uuid,
        kind: &'static EntityKind,
        id_or_name: &str,
    ) -> Result<Option<String>, ApiError> {
        if Uuid::parse_str(id_or_name).is_ok() {
            let found = self
                .store
                .get_entity(control_plane, kind.name, id_or_name)
                .await?;
            return Ok(found.map(|_| id_or_name.to_string()));
        }
        match kind.endpoint_key {
            Some(key) => Ok(self
                .store
                .entity_id_by_key(control_plane, kind.name, key, id_or_name)
                .await?),
            // Koko's text for a path id that is not a UUID.
            None => Err(ApiError::BadRequest(format!(
                " '{id_or_name}' is not a valid uuid"
            ))),
        }
    }

    /// The entity an `{id or name}` path segment names, with its id, wherever it hangs:
    /// one read for an id, two for a name.
    async fn lookup(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        id_or_name: &str,
    ) -> Result<Option<(String, Value)>, ApiError> {
        let id = if Uuid::parse_str(id_or_name).is_ok() {
            id_or_name.to_string()
        } else {
            match self.resolve_entity(control_plane, kind, id_or_name).await? {
                Some(id) => id,
                None => return Ok(None),
            }
        };
        let entity = self.store.get_entity(control_plane, kind.name, &id).await?;
        Ok(entity.map(|e| (id, e)))
    }

    /// [`Self::lookup`], of an entity visible in `scope` (under its parent, if any).
    async fn find(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<Option<(String, Value)>, ApiError> {
        let found = self.lookup(kind, scope.control_plane, id_or_name).await?;
        Ok(found.filter(|(_, e)| match &scope.parent {
            None => true,
            Some(parent) => reference_id(e.get(parent.field())) == Some(parent.id.as_str()),
        }))
    }

    /// The scope of a nested collection: 404 when the parent does not exist.
    pub async fn nested_scope(
        &self,
        control_plane: Uuid,
        parent: Option<(&'static EntityKind, &str)>,
    ) -> Result<Scope, ApiError> {
        let parent = match parent {
            None => {
                self.ensure_control_plane(control_plane).await?;
                None
            }
            // A parent found in this control plane proves the control plane exists.
            Some((kind, id_or_name)) => {
                match self.resolve_entity(control_plane, kind, id_or_name).await? {
                    Some(id) => Some(Parent { kind, id }),
                    None => {
                        self.ensure_control_plane(control_plane).await?;
                        return Err(not_found());
                    }
                }
            }
        };
        Ok(Scope {
            control_plane,
            parent,
        })
    }

    /// `POST /{collection}`: 201 with the stored entity.
    ///
    /// A top-level create does not look the control plane up first: the insert's foreign
    /// key proves it exists in the write's own transaction, and only a request that fails
    /// before the write pays for the lookup (so a missing control plane is still a 404
    /// rather than whatever the body would have earned).
    pub async fn create_entity(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        parent: Option<(&'static EntityKind, &str)>,
        body: Value,
    ) -> Result<Filled, ApiError> {
        let scope = match parent {
            None => Scope {
                control_plane,
                parent: None,
            },
            Some(_) => self.nested_scope(control_plane, parent).await?,
        };
        let checked = async {
            let input = scoped_input(kind, &scope, body)?;
            self.check_entity(kind, &scope, input, Context::Insert)
                .await
        };
        let entity = match checked.await {
            Ok(entity) => entity,
            Err(e) => {
                if parent.is_none() {
                    self.ensure_control_plane(control_plane).await?;
                }
                return Err(e);
            }
        };
        let entity = self.write(kind, &scope, entity, false).await?;
        Ok(present(entity))
    }

    /// `PUT /{collection}/{id or name}`: creates or replaces (Konnect answers 200).
    pub async fn put_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
        body: Value,
    ) -> Result<Filled, ApiError> {
        let mut input = scoped_input(kind, scope, body)?;
        // Unscoped: a PUT under another parent moves the entity and keeps its history.
        let (id, existing) = match self.lookup(kind, scope.control_plane, id_or_name).await? {
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
        let entity = self
            .check_entity(kind, scope, input, Context::Upsert)
            .await?;
        let entity = self.write(kind, scope, entity, true).await?;
        Ok(present(entity))
    }

    /// `PATCH /{collection}/{id or name}`: Kong's merge of the changes into the stored
    /// entity, then a full check.
    pub async fn patch_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
        body: Value,
    ) -> Result<Filled, ApiError> {
        let changes = scoped_input(kind, scope, body)?;
        let (id, existing) = self
            .find(kind, scope, id_or_name)
            .await?
            .ok_or_else(not_found)?;
        let choice = self
            .schema_choice(kind, scope.control_plane, &existing)
            .await?;
        let patch_changes = changes.clone();
        let stored = existing.clone();
        let merged = self
            .with_schema(&choice, move |schema, _| {
                merge_values(schema, &patch_changes, &stored)
            })
            .await?;
        let mut merged = merged;
        if let Value::Object(map) = &mut merged {
            map.insert("id".into(), json!(id));
        }
        let entity = self
            .check_entity(kind, scope, merged, Context::Upsert)
            .await?;
        let entity = self.write(kind, scope, entity, true).await?;
        Ok(present(entity))
    }

    /// `GET /{collection}/{id or name}`.
    pub async fn get_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<Filled, ApiError> {
        let (_, entity) = self
            .find(kind, scope, id_or_name)
            .await?
            .ok_or_else(not_found)?;
        Ok(present(entity))
    }

    /// `DELETE /{collection}/{id or name}`: 204 whether or not it existed.
    pub async fn delete_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<(), ApiError> {
        let Some((id, _)) = self.find(kind, scope, id_or_name).await? else {
            return Ok(());
        };
        self.store
            .delete_entity(
                scope.control_plane,
                kind.name,
                &id,
                entity_kind::on_delete,
                Some(&self.cluster.notification(scope.control_plane)),
            )
            .await
            .map_err(|e| match e {
                // Kong's `foreign_key_violation_restricted`.
                DeleteError::Referenced(by) => ApiError::Rejected {
                    message: "data constraint error".into(),
                    details: vec![ErrorDetail {
                        kind: DetailKind::Reference,
                        field: None,
                        messages: vec![format!(
                            "an existing '{by}' entity references this '{}' entity",
                            kind.name
                        )],
                    }],
                },
                DeleteError::Store(e) => e.into(),
            })?;
        self.cluster.changed_locally(scope.control_plane);
        Ok(())
    }

    /// `GET /{collection}`: Kong's `size`, `offset`, `tags` and Konnect's name filters.
    pub async fn list_entities(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        query: &HashMap<String, String>,
    ) -> Result<Listing, ApiError> {
        let size = match query.get("size") {
            None => crate::app::DEFAULT_PAGE_SIZE as usize,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if n >= 1 && n <= self.settings.max_page_size => n as usize,
                _ => {
                    return Err(ApiError::invalid(
                        "Invalid query parameters",
                        vec![
                            crate::domain::field_error::FieldError::invalid(
                                "size",
                                format!(
                                    "must be an integer from 1 to {}",
                                    self.settings.max_page_size
                                ),
                            )
                            .from_source("query"),
                        ],
                    ));
                }
            },
        };
        let mut filter = EntityFilter {
            parent: scope.parent.as_ref().map(|p| (p.field(), p.id.clone())),
            ..EntityFilter::default()
        };
        if let Some(tags) = query.get("tags").filter(|t| !t.is_empty()) {
            let any = tags.contains('/');
            let mut wanted: Vec<String> = Vec::new();
            for tag in tags.split([',', '/']).filter(|t| !t.is_empty()) {
                if !wanted.iter().any(|w| w == tag) {
                    wanted.push(tag.to_string());
                }
            }
            // `tags=,` names no tag: no filter.
            if !wanted.is_empty() {
                filter.tags = Some(TagFilter {
                    tags: wanted,
                    all: !any,
                });
            }
        }
        filter.name_eq = query.get("filter[name][eq]").cloned();
        filter.name_contains = query.get("filter[name][contains]").cloned();
        let after = query.get("offset").map(String::as_str);
        let page = self
            .store
            .list_entities(scope.control_plane, kind.name, &filter, after, size)
            .await?;
        Ok(Listing {
            data: page.items.into_iter().map(present).collect(),
            next_offset: page.next_after,
        })
    }

    /// `POST /schemas/plugins/validate`: every error at once; nothing is stored.
    pub async fn validate_plugin(&self, control_plane: Uuid, body: Value) -> Result<(), ApiError> {
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

    async fn schema_choice(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        input: &Value,
    ) -> Result<SchemaChoice, ApiError> {
        if let Some(source) = crate::lua::entities::schema_source(kind.name) {
            return Ok(SchemaChoice {
                owner: Arc::from(""),
                source: Arc::from(source),
                build: entity_schema,
            });
        }
        let name = match input.get("name") {
            None | Some(Value::Null) => return Err(field_error("name", "required field missing")),
            Some(Value::String(name)) => name,
            Some(_) => return Err(field_error("name", "expected a string")),
        };
        if let Some(source) = self.store.plugin_schema_source(control_plane, name).await? {
            return Ok(SchemaChoice {
                owner: Arc::from(control_plane.to_string().as_str()),
                source,
                build: plugin_entity_schema,
            });
        }
        if is_bundled(name) {
            return Ok(SchemaChoice {
                owner: Arc::from(""),
                source: Arc::from(OPAQUE_SOURCE),
                build: opaque_plugin_schema,
            });
        }
        // Koko's text for an unknown plugin (api-contract.md §4.4).
        Err(field_error(
            "name",
            format!("plugin({name}) does not exist"),
        ))
    }

    /// Runs `work` with the schema ready: inline when it is declarative and cached,
    /// else on the Lua pool with a warm VM.
    async fn with_schema<T, F>(&self, choice: &SchemaChoice, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Schema, &mut dyn Functions) -> T + Send + 'static,
    {
        let key = SchemaCache::key_for(&choice.owner, &choice.source, choice.build);
        if let Some(schema) = self.schemas.declarative(&key) {
            return Ok(work(&schema, &mut NoFunctions));
        }
        let cache = self.schemas.clone();
        let choice = choice.clone();
        self.lua
            .run(move |limits| {
                match cache.checkout_keyed(key, &choice.source, choice.build, limits)? {
                    Ready::Declarative(schema) => Ok(work(&schema, &mut NoFunctions)),
                    Ready::WithLua(mut compiled) => {
                        let schema = compiled.schema.clone();
                        let out = work(&schema, &mut compiled);
                        cache.checkin_keyed(key, compiled);
                        Ok(out)
                    }
                }
            })
            .await
            .map_err(|e| match e {
                RunnerError::Busy => ApiError::Unavailable(e.to_string()),
                RunnerError::Crashed => ApiError::Internal(e.into()),
            })?
            .map_err(|e: crate::lua::sandbox::LuaError| {
                field_error(
                    "name",
                    format!("the plugin's schema could not be loaded: {e}"),
                )
            })
    }

    /// Kong's DAO check for a write: defaults and auto fields, then full validation,
    /// then the rules outside the schema.
    async fn check_entity(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        input: Value,
        context: Context,
    ) -> Result<Filled, ApiError> {
        let choice = self
            .schema_choice(kind, scope.control_plane, &input)
            .await?;
        let steps = self.lua.limits().pattern_steps;
        let now = crate::domain::now_seconds();
        let entity = self
            .with_schema(&choice, move |schema, functions| {
                Engine::new(functions, steps, now).check_filled(schema, input, context)
            })
            .await?
            .map_err(|e| validation_error(&e))?;
        if std::ptr::eq(kind, &PLUGINS) {
            self.check_plugin_route_protocols(scope.control_plane, &entity)
                .await?;
        }
        if std::ptr::eq(kind, &ROUTES) {
            check_route_regexes(&entity)?;
        }
        Ok(entity)
    }

    /// Kong's plugins DAO: a plugin on a route must share one of its protocols.
    async fn check_plugin_route_protocols(
        &self,
        control_plane: Uuid,
        plugin: &Filled,
    ) -> Result<(), ApiError> {
        let Some(route_id) = reference_id(plugin.get("route")) else {
            return Ok(());
        };
        let Some(route) = self
            .store
            .get_entity(control_plane, ROUTES.name, route_id)
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
        Err(field_error(
            "protocols",
            "must match the associated route's protocols",
        ))
    }

    /// Stores `entity` and gives it back, so that the response is built from it without
    /// a copy.
    async fn write(
        &self,
        kind: &'static EntityKind,
        scope: &Scope,
        entity: Filled,
        replace: bool,
    ) -> Result<Filled, ApiError> {
        let record = record_of(kind, &entity);
        let written = self
            .store
            .write_entity(
                scope.control_plane,
                &record,
                replace,
                Some(&self.cluster.notification(scope.control_plane)),
            )
            .await;
        if written.is_ok() {
            self.cluster.changed_locally(scope.control_plane);
        }
        written.map(|()| entity).map_err(|e| match e {
            WriteError::IdTaken => constraint_error(ErrorDetail {
                kind: DetailKind::Reference,
                field: Some("id".into()),
                messages: vec![format!(
                    "id (type: unique) constraint failed for value '{}': ",
                    record.id
                )],
            }),
            // Koko's `ErrConstraint` text (internal/store).
            WriteError::KeyTaken { key, value } => {
                let (index, field) = if key == PLUGIN_SCOPE_KEY {
                    ("unique-plugin-per-entity", None)
                } else {
                    (key.as_str(), Some(key.clone()))
                };
                constraint_error(ErrorDetail {
                    kind: DetailKind::Reference,
                    field,
                    messages: vec![format!(
                        "{index} (type: unique) constraint failed for value '{value}': "
                    )],
                })
            }
            // Kong's `foreign_key_violation_invalid_reference` text.
            WriteError::MissingTarget(reference) => constraint_error(ErrorDetail {
                kind: DetailKind::Reference,
                field: Some(format!("{}.id", reference.field)),
                messages: vec![format!(
                    "the foreign key '{{id=\"{}\"}}' does not reference an existing '{}' entity.",
                    reference.id, reference.target
                )],
            }),
            WriteError::NoControlPlane => ApiError::NotFound("control plane not found".into()),
            WriteError::Store(e) => e.into(),
        })
    }
}

const PLUGIN_SCOPE_KEY: &str = "scope";

/// Regexes in routes (`~/path`, `~*header`), which the sandbox cannot compile. Kong
/// compiles paths with PCRE (`invalid regex: ...` at the path); its traditional_compatible
/// router then compiles the route with Rust's `regex` crate, which lacks look-around and
/// back-references (`Router Expression failed validation: ...`, NOTES.md §7). The
/// `regex` crate stands in for both; what only it refuses is the router's error.
fn check_route_regexes(route: &Filled) -> Result<(), ApiError> {
    let unsupported = |e: &regex::Error| e.to_string().contains("not supported");
    let reason = |e: &regex::Error| {
        let text = e.to_string();
        text.lines()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.lines().last().unwrap_or(""))
            .to_string()
    };
    let mut field_errors = Vec::new();
    let mut router_error = None;
    let paths = route
        .get("paths")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, path) in paths.iter().enumerate() {
        let Some(pattern) = path.as_str().and_then(|p| p.strip_prefix('~')) else {
            continue;
        };
        if let Err(e) = regex::Regex::new(pattern) {
            if unsupported(&e) {
                router_error.get_or_insert_with(|| reason(&e));
            } else {
                field_errors.push(ErrorDetail::field(
                    format!("paths[{i}]"),
                    format!("invalid regex: '{pattern}' (PCRE returned: {})", reason(&e)),
                ));
            }
        }
    }
    let headers = route.get("headers").and_then(Value::as_object);
    for values in headers.into_iter().flat_map(|h| h.values()) {
        for value in values.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(pattern) = value.as_str().and_then(|v| v.strip_prefix("~*"))
                && let Err(e) = regex::Regex::new(pattern)
            {
                router_error.get_or_insert_with(|| reason(&e));
            }
        }
    }
    if !field_errors.is_empty() {
        return Err(ApiError::Rejected {
            message: "validation error".into(),
            details: field_errors,
        });
    }
    if let Some(reason) = router_error {
        return Err(ApiError::Rejected {
            message: "validation error".into(),
            details: vec![ErrorDetail {
                kind: DetailKind::Entity,
                field: None,
                messages: vec![format!("Router Expression failed validation: {reason}")],
            }],
        });
    }
    Ok(())
}

/// The request body as the entity to check: an object, with a nested collection's
/// parent forced in (Kong's nested endpoints set the foreign key from the path).
fn scoped_input(kind: &EntityKind, scope: &Scope, body: Value) -> Result<Value, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        ));
    };
    if let Some(parent) = &scope.parent
        && kind.foreign.iter().any(|f| f.field == parent.field())
    {
        map.insert(parent.field().into(), json!({"id": parent.id}));
    }
    Ok(Value::Object(map))
}

/// The id of a foreign key's value (`{"id": ...}`).
fn reference_id(reference: Option<&Value>) -> Option<&str> {
    reference?.get("id")?.as_str()
}

/// What the store keeps of an entity: its body as JSON text, and what it must enforce.
fn record_of(kind: &'static EntityKind, entity: &Filled) -> EntityRecord {
    let text = |field: &str| {
        entity
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let seconds = |field: &str| entity.get(field).and_then(Value::as_i64).unwrap_or(0);
    let mut keys: Vec<(String, String)> = kind
        .unique
        .iter()
        .filter_map(|field| text(field).map(|v| (field.to_string(), v)))
        .collect();
    let name = match kind.endpoint_key {
        Some(key) => text(key),
        None => text("name"),
    };
    if std::ptr::eq(kind, &PLUGINS) {
        let scope =
            ["service", "route", "consumer", "consumer_group"].map(|f| reference_id(entity.get(f)));
        keys.push((
            PLUGIN_SCOPE_KEY.into(),
            plugin_scope_key(name.as_deref().unwrap_or(""), scope),
        ));
    }
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
    let (created_at, updated_at) = (seconds("created_at"), seconds("updated_at"));
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

/// An entity as the API answers with it: Konnect leaves unset top-level fields out
/// (api-contract.md decision 6).
fn present(entity: impl Into<Filled>) -> Filled {
    let mut entity = entity.into();
    entity.drop_nulls();
    entity
}
