//! Which schema validates an entity, and running work with it ready: inline when the
//! schema is declarative and cached, else on the Lua pool with a warm VM.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use uuid::Uuid;

use super::kinds::EntityKind;
use super::{Entities, EntityError};
use crate::domain::bundled_plugins::is_bundled;
use crate::lua::modules::ModuleSet;
use crate::lua::plugins::bundled_schema_source;
use crate::lua::sandbox::{Limits, Sandbox};
use crate::lua::schema_cache::{BuildSchema, Ready, SchemaCache};
use crate::schema::definition::Schema;
use crate::schema::plugin_entity::{opaque_plugin_schema, plugin_entity_schema};
use crate::schema::validate::{Functions, NoFunctions};
use crate::schema::value::SchemaValue;

/// Which schema validates an entity, and how to build it from the evaluated source.
#[derive(Clone)]
pub(super) struct SchemaChoice {
    /// Whose schema it is: the control plane for uploads, none for konnektd's own.
    owner: Arc<str>,
    source: Arc<str>,
    /// What the source may `require`: konnektd's own schemas get every module.
    modules: ModuleSet,
    build: BuildSchema,
}

/// Bundled plugins konnektd has no schema for (Kong Enterprise's, whose schemas are not
/// public) are checked on their base fields only.
const OPAQUE_SOURCE: &str = "return {}";

fn entity_schema(value: &SchemaValue) -> Result<Schema, String> {
    let mut schema = Schema::parse(value, true).map_err(|e| e.to_string())?;
    attach_references(&mut schema);
    Ok(schema)
}

fn plugin_schema(value: &SchemaValue) -> Result<Schema, String> {
    let mut schema = plugin_entity_schema(value)?;
    attach_references(&mut schema);
    Ok(schema)
}

fn opaque_schema(value: &SchemaValue) -> Result<Schema, String> {
    let mut schema = opaque_plugin_schema(value)?;
    attach_references(&mut schema);
    Ok(schema)
}

/// Gives each foreign field the schema of the core entity it references, which Kong
/// validates a reference with an invalid key against (`Schema:validate_field`,
/// kong/db/schema/init.lua): `consumer: {"name": "x"}` is `consumer.name: unknown field`.
fn attach_references(schema: &mut Schema) {
    for (_, field) in &mut schema.fields {
        if let Some(reference) = field.reference.as_deref() {
            field.foreign_schema = reference_schema(reference);
        }
    }
}

/// A core entity's schema as a reference is checked against, evaluated once per process
/// from konnektd's own sources (`src/lua/entities/`). Blocking: builds run on the Lua pool.
///
/// A route reference is checked without the routes' subschemas: Kong's `validate` stops
/// at a missing subschema key, so there `route: {"name": "x"}` is `route.protocols:
/// required field missing`, an accident konnektd does not copy (it answers
/// `route.id: missing primary key`; docs/schema-engine.md, "Deliberate differences").
fn reference_schema(kind: &str) -> Option<Arc<Schema>> {
    static SCHEMAS: OnceLock<Mutex<HashMap<String, Option<Arc<Schema>>>>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(Mutex::default);
    if let Some(known) = schemas.lock().expect("reference schemas lock").get(kind) {
        return known.clone();
    }
    let built = crate::lua::entities::schema_source(kind).and_then(|source| {
        let value = Sandbox::with_modules(Limits::default(), ModuleSet::Bundled)
            .and_then(|sandbox| sandbox.eval_schema(source))
            .ok()?;
        let mut schema = Schema::parse(&value, true).ok()?;
        schema.subschema_key = None;
        schema.subschemas.clear();
        Some(Arc::new(schema))
    });
    schemas
        .lock()
        .expect("reference schemas lock")
        .insert(kind.to_string(), built.clone());
    built
}

impl Entities {
    /// The kind's own schema; for a plugin, its control plane's upload of that name,
    /// else a bundled plugin's base fields.
    pub(super) async fn schema_choice(
        &self,
        kind: &'static EntityKind,
        control_plane: Uuid,
        input: &Value,
    ) -> Result<SchemaChoice, EntityError> {
        if let Some(source) = crate::lua::entities::schema_source(kind.name) {
            return Ok(SchemaChoice {
                owner: Arc::from(""),
                source: Arc::from(source),
                modules: ModuleSet::Bundled,
                build: entity_schema,
            });
        }
        let name = match input.get("name") {
            None | Some(Value::Null) => {
                return Err(EntityError::field("name", "required field missing"));
            }
            Some(Value::String(name)) => name,
            Some(_) => return Err(EntityError::field("name", "expected a string")),
        };
        if let Some(source) = self.store.plugin_schema_source(control_plane, name).await? {
            return Ok(SchemaChoice {
                owner: Arc::from(control_plane.to_string().as_str()),
                source,
                modules: ModuleSet::Uploaded,
                build: plugin_schema,
            });
        }
        if let Some(source) = bundled_schema_source(name) {
            return Ok(SchemaChoice {
                owner: Arc::from(""),
                source: Arc::from(source),
                modules: ModuleSet::Bundled,
                build: plugin_schema,
            });
        }
        if is_bundled(name) {
            tracing::warn!(
                control_plane = %control_plane,
                plugin = %name,
                "plugin config not validated: its schema is not public (a Kong Enterprise plugin), so it is stored as given"
            );
            return Ok(SchemaChoice {
                owner: Arc::from(""),
                source: Arc::from(OPAQUE_SOURCE),
                modules: ModuleSet::Bundled,
                build: opaque_schema,
            });
        }
        // Koko's text for an unknown plugin (docs/api.md, "Core entities").
        Err(EntityError::field(
            "name",
            format!("plugin({name}) does not exist"),
        ))
    }

    /// Runs `work` with the schema ready: inline when it is declarative and cached,
    /// else on the Lua pool with a warm VM.
    pub(super) async fn with_schema<T, F>(
        &self,
        choice: &SchemaChoice,
        work: F,
    ) -> Result<T, EntityError>
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
                match cache.checkout_keyed(
                    key,
                    &choice.source,
                    choice.modules,
                    choice.build,
                    limits,
                )? {
                    Ready::Declarative(schema) => Ok(work(&schema, &mut NoFunctions)),
                    Ready::WithLua(mut compiled) => {
                        let schema = compiled.schema.clone();
                        let out = work(&schema, &mut compiled);
                        cache.checkin_keyed(key, compiled);
                        Ok(out)
                    }
                }
            })
            .await?
            .map_err(|e: crate::lua::sandbox::LuaError| {
                EntityError::field(
                    "name",
                    format!("the plugin's schema could not be loaded: {e}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::definition::from_json;
    use crate::schema::errors::details;
    use crate::schema::validate::{Context, Engine, NoFunctions};

    fn refusal(schema: &Schema, input: serde_json::Value) -> Vec<(String, Vec<String>)> {
        let errors = Engine::new(&mut NoFunctions, 1_000_000, 1.0)
            .check(schema, &input, Context::Insert)
            .unwrap_err();
        details(&errors)
            .into_iter()
            .map(|d| (d.field.unwrap_or_default(), d.messages))
            .collect()
    }

    /// Each build gives foreign fields the core entity schema they reference, evaluated
    /// from `src/lua/entities/`; a route reference is checked without the routes'
    /// subschemas (docs/schema-engine.md, "Deliberate differences").
    #[test]
    fn every_build_knows_the_referenced_core_schemas() {
        let plugin = from_json(
            &json!({"name": "p", "fields": [{"config": {"type": "record", "fields": []}}]}),
        );
        for build in [plugin_schema, opaque_schema] {
            let schema = build(&plugin).unwrap();
            for (name, kind) in [
                ("consumer", "consumers"),
                ("service", "services"),
                ("route", "routes"),
                ("consumer_group", "consumer_groups"),
            ] {
                let reference = schema.field(name).unwrap().foreign_schema.as_deref();
                assert!(reference.is_some_and(|r| r.field("id").is_some()), "{kind}");
            }
            assert_eq!(
                refusal(&schema, json!({"name": "p", "consumer": {"name": "x"}})),
                [(
                    "consumer.name".to_string(),
                    vec!["unknown field".to_string()]
                )]
            );
            // services.host calls Lua (typedefs.host): not called for a reference.
            assert_eq!(
                refusal(
                    &schema,
                    json!({"name": "p", "service": {"host": "bad host!"}})
                ),
                [(
                    "service.id".to_string(),
                    vec!["missing primary key".to_string()]
                )]
            );
        }
        let routes = reference_schema("routes").unwrap();
        assert!(routes.subschema_key.is_none() && routes.subschemas.is_empty());
        assert!(Arc::ptr_eq(&routes, &reference_schema("routes").unwrap()));
        assert!(reference_schema("certificates").is_some());
        assert!(reference_schema("no_such_entities").is_none());

        let routes = entity_schema(
            &Sandbox::with_modules(Limits::default(), ModuleSet::Bundled)
                .unwrap()
                .eval_schema(crate::lua::entities::schema_source("routes").unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(routes.field("service").unwrap().foreign_schema.is_some());
    }
}
