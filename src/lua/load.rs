//! From uploaded `schema.lua` text to a checked plugin schema: evaluate it in a fresh
//! sandbox, hold it to Kong's metaschema, render its JSON.

use serde_json::Value;

use super::modules::ModuleSet;
use super::sandbox::{Limits, LuaError, Sandbox};
use crate::schema::metaschema::{SchemaRejected, check_plugin_schema};
use crate::schema::render::{merged_plugin_schema_json, plugin_schema_json};

/// A schema that loaded and passed the metaschema.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSchema {
    pub name: String,
    /// The plugin's own rendering (`{"fields": [...], "entity_checks": [...]}`).
    pub json: Value,
    /// The rendering merged into Kong's base plugin fields, as `/schemas/plugins/{name}` serves it.
    pub merged_json: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lua(#[from] LuaError),
    #[error(transparent)]
    Rejected(#[from] SchemaRejected),
}

/// An upload: `require` serves Kong's sandbox modules only.
pub fn load_plugin_schema(source: &str, limits: Limits) -> Result<LoadedSchema, LoadError> {
    load_with_modules(source, limits, ModuleSet::Uploaded)
}

pub fn load_with_modules(
    source: &str,
    limits: Limits,
    modules: ModuleSet,
) -> Result<LoadedSchema, LoadError> {
    let value = Sandbox::with_modules(limits, modules)?.eval_schema(source)?;
    let checked = check_plugin_schema(&value)?;
    Ok(LoadedSchema {
        name: checked.name,
        json: plugin_schema_json(&value),
        merged_json: merged_plugin_schema_json(&value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn load(path: &str) -> Result<LoadedSchema, LoadError> {
        load_plugin_schema(&fixture(path), Limits::default())
    }

    /// Kong 3.10's rendering of ping-auth 1.2.0 (`schema_to_jsonable`), kept as
    /// `tests/fixtures/ping-auth/schema.json`.
    #[test]
    fn ping_auth_renders_as_kong_renders_it() {
        let loaded = load("ping-auth/schema.lua").unwrap();
        assert_eq!(loaded.name, "ping-auth");
        let expected: Value = serde_json::from_str(&fixture("ping-auth/schema.json")).unwrap();
        assert_eq!(loaded.json, expected);
        let merged = loaded.merged_json["fields"].as_array().unwrap();
        let names: Vec<_> = merged
            .iter()
            .map(|f| f.as_object().unwrap().keys().next().unwrap().clone())
            .collect();
        assert_eq!(
            names,
            [
                "id",
                "name",
                "instance_name",
                "created_at",
                "updated_at",
                "route",
                "service",
                "consumer",
                "config",
                "protocols",
                "enabled",
                "tags"
            ]
        );
        assert_eq!(merged[8]["config"], expected["fields"][0]["config"]);
    }

    #[test]
    fn schemas_that_only_need_typedefs_load() {
        for (path, name) in [
            ("schemas/all-types.lua", "all-types"),
            ("schemas/typedefs.lua", "typedef-user"),
            ("schemas/custom-entity-check.lua", "custom-check"),
        ] {
            let loaded = load(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(loaded.name, name);
        }
        let typedef_user = load("schemas/typedefs.lua").unwrap();
        let consumer = &typedef_user.merged_json["fields"][7]["consumer"];
        assert_eq!(
            consumer["eq"],
            Value::Null,
            "no_consumer specializes the base consumer"
        );
        assert!(consumer.as_object().unwrap().contains_key("eq"));
    }

    #[test]
    fn broken_schemas_get_kongs_messages() {
        let rejected = |path: &str| match load(path) {
            Err(LoadError::Rejected(r)) => r.0,
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(
            rejected("schemas/metaschema-string-between.lua"),
            "schema violation (a: field of type 'string' cannot have attribute 'between')"
        );
        assert_eq!(
            rejected("schemas/metaschema-no-name.lua"),
            "schema violation (name: field required for entity check)"
        );
        assert_eq!(
            rejected("schemas/metaschema-bad-type.lua"),
            "schema violation (config.a.type: expected one of: map, record, string, array, json, number, integer, set, function, foreign, boolean)"
        );
        assert_eq!(
            rejected("schemas/metaschema-unknown-attr.lua"),
            "schema violation (config.a.legacy: unknown field)"
        );
        let lua = |path: &str| match load(path) {
            Err(LoadError::Lua(LuaError::Lua(m))) => m,
            other => panic!("{path}: {other:?}"),
        };
        assert!(
            lua("schemas/requires-other.lua")
                .ends_with("require 'kong.plugins.foo.handler' not allowed within sandbox")
        );
        assert!(
            lua("schemas/from-varargs.lua").ends_with(":8: attempt to index a nil value"),
            "{}",
            lua("schemas/from-varargs.lua")
        );
    }
}
