//! The schemas of the plugins bundled with Kong Gateway 3.10 open source, written in
//! Kong's schema language (`plugins/<name>.lua`, one per plugin, listed by `build.rs`)
//! and evaluated by the same sandbox as uploads, with the bundled module set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::load::{LoadError, load_with_modules};
use super::modules::ModuleSet;
use super::sandbox::Limits;

/// `(name, source)`, sorted by name.
const SCHEMAS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/bundled_plugin_schemas.rs"));

/// The schema source of a bundled plugin konnektd validates.
pub fn bundled_schema_source(name: &str) -> Option<&'static str> {
    SCHEMAS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| SCHEMAS[i].1)
}

/// The bundled plugins konnektd validates, sorted.
pub fn validated_bundled_plugins() -> impl Iterator<Item = &'static str> {
    SCHEMAS.iter().map(|(name, _)| *name)
}

/// `GET /schemas/plugins/{name}` of a bundled plugin: its rendering merged into the base
/// plugin fields, evaluated once per process (the sources are part of the binary).
/// Blocking: call it on the Lua pool.
pub fn bundled_plugin_json(name: &str, limits: Limits) -> Option<Result<Arc<Value>, LoadError>> {
    static RENDERED: OnceLock<Mutex<HashMap<&'static str, Arc<Value>>>> = OnceLock::new();
    let index = SCHEMAS.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
    let (name, source) = SCHEMAS[index];
    let rendered = RENDERED.get_or_init(Mutex::default);
    if let Some(json) = rendered.lock().expect("rendered schemas lock").get(name) {
        return Some(Ok(json.clone()));
    }
    Some(
        load_with_modules(source, limits, ModuleSet::Bundled).map(|loaded| {
            let json = Arc::new(loaded.merged_json);
            rendered
                .lock()
                .expect("rendered schemas lock")
                .insert(name, json.clone());
            json
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bundled_plugins::is_bundled;
    use crate::lua::load::LoadedSchema;

    fn load(name: &str) -> LoadedSchema {
        load_with_modules(
            bundled_schema_source(name).unwrap(),
            Limits::default(),
            ModuleSet::Bundled,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn every_bundled_schema_loads_passes_the_metaschema_and_is_named_after_its_file() {
        for name in validated_bundled_plugins() {
            assert!(is_bundled(name), "{name} is not a Kong plugin name");
            assert_eq!(load(name).name, name);
        }
    }

    #[test]
    fn the_list_is_sorted_for_lookups() {
        assert!(SCHEMAS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(bundled_schema_source("key-auth").is_some());
        assert!(bundled_schema_source("ping-auth").is_none());
    }

    #[test]
    fn the_rendering_is_served_from_memory_after_the_first_time() {
        let first = bundled_plugin_json("key-auth", Limits::default())
            .unwrap()
            .unwrap();
        let again = bundled_plugin_json("key-auth", Limits::default())
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(bundled_plugin_json("nope", Limits::default()).is_none());
    }
}
