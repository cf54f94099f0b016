//! Schemas kept ready for validation. A schema's source is evaluated once per VM and
//! the VM is kept, with its functions (`custom_validator`, `custom_entity_check.fn`,
//! shorthand `func`), so validating an entity costs a Lua call, not an evaluation.
//!
//! Each VM only ever runs the one source it evaluated, so what a validator leaves in its
//! globals stays with that schema's author. A VM that hit its time or memory limit is
//! dropped, never reused. Schemas with no function at all need no VM: they are parsed
//! once and shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::modules::ModuleSet;
use super::sandbox::{Limits, LuaError, Sandbox};
use crate::schema::definition::{FnId, Schema};
use crate::schema::validate::Functions;
use crate::schema::value::SchemaValue;

/// Builds the validation schema from an evaluated source (plugins merge it into the
/// base plugin entity; core entities parse it as is).
pub type BuildSchema = fn(&SchemaValue) -> Result<Schema, String>;

/// A schema with the VM holding its functions.
pub struct CompiledSchema {
    sandbox: Sandbox,
    functions: Vec<mlua::Function>,
    pub schema: Arc<Schema>,
    poisoned: bool,
}

impl CompiledSchema {
    pub fn compile(
        source: &str,
        modules: ModuleSet,
        limits: Limits,
        build: BuildSchema,
    ) -> Result<Self, LuaError> {
        let sandbox = Sandbox::with_modules(limits, modules)?;
        let (value, functions) = sandbox.eval_schema_keeping_functions(source)?;
        let schema = build(&value).map_err(LuaError::BadResult)?;
        Ok(CompiledSchema {
            sandbox,
            functions,
            schema: Arc::new(schema),
            poisoned: false,
        })
    }
}

impl Functions for CompiledSchema {
    fn call(&mut self, id: FnId, argument: &Value) -> Result<[Option<Value>; 2], String> {
        let function = self
            .functions
            .get(id as usize)
            .ok_or_else(|| format!("schema function {id} does not exist"))?;
        self.sandbox.call(function, argument).map_err(|e| {
            if matches!(e, LuaError::Timeout(_) | LuaError::OutOfMemory(_)) {
                self.poisoned = true;
            }
            e.to_string()
        })
    }
}

/// What a validation gets from the cache.
pub enum Ready {
    /// No functions: validate anywhere, no VM needed.
    Declarative(Arc<Schema>),
    /// Validate on the Lua pool with this VM, then give it back.
    WithLua(CompiledSchema),
}

pub type Key = [u8; 32];

/// Cached schemas, and their keys oldest first.
#[derive(Default)]
struct Entries {
    by_key: HashMap<Key, Entry>,
    order: Vec<Key>,
}

#[derive(Default)]
struct Entry {
    declarative: Option<Arc<Schema>>,
    idle: Vec<CompiledSchema>,
}

/// The cache, keyed by a digest of (builder, source). Bounded: idle VMs per schema and
/// schemas overall; the least recently added schema goes first.
pub struct SchemaCache {
    entries: Mutex<Entries>,
    max_schemas: usize,
    max_idle_per_schema: usize,
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCache")
            .field("max_schemas", &self.max_schemas)
            .finish_non_exhaustive()
    }
}

impl SchemaCache {
    pub fn new(max_schemas: usize, max_idle_per_schema: usize) -> Self {
        SchemaCache {
            entries: Mutex::new(Entries::default()),
            max_schemas: max_schemas.max(1),
            max_idle_per_schema,
        }
    }

    pub fn key(source: &str, build: BuildSchema) -> Key {
        Self::key_for("", source, build)
    }

    /// The key of a schema owned by `owner` (a control plane): VMs of equal sources
    /// uploaded by two owners are never shared, so neither sees the other's globals.
    pub fn key_for(owner: &str, source: &str, build: BuildSchema) -> Key {
        let mut hasher = Sha256::new();
        hasher.update((build as usize).to_le_bytes());
        hasher.update((owner.len() as u64).to_le_bytes());
        hasher.update(owner.as_bytes());
        hasher.update(source.as_bytes());
        hasher.finalize().into()
    }

    /// A declarative schema already known, without touching Lua.
    pub fn declarative(&self, key: &Key) -> Option<Arc<Schema>> {
        let entries = self.entries.lock().expect("schema cache lock");
        entries.by_key.get(key).and_then(|e| e.declarative.clone())
    }

    /// A schema ready to validate with; evaluates the source when no idle VM is left.
    /// Blocking: call it on the Lua pool.
    pub fn checkout(
        &self,
        source: &str,
        build: BuildSchema,
        limits: Limits,
    ) -> Result<Ready, LuaError> {
        let key = Self::key(source, build);
        self.checkout_keyed(key, source, ModuleSet::Uploaded, build, limits)
    }

    /// [`SchemaCache::checkout`] with its key already computed ([`SchemaCache::key_for`]) (the key digests the
    /// whole source, which a request should do once).
    pub fn checkout_keyed(
        &self,
        key: Key,
        source: &str,
        modules: ModuleSet,
        build: BuildSchema,
        limits: Limits,
    ) -> Result<Ready, LuaError> {
        {
            let mut entries = self.entries.lock().expect("schema cache lock");
            if let Some(entry) = entries.by_key.get_mut(&key) {
                if let Some(schema) = &entry.declarative {
                    return Ok(Ready::Declarative(schema.clone()));
                }
                if let Some(compiled) = entry.idle.pop() {
                    return Ok(Ready::WithLua(compiled));
                }
            }
        }
        let compiled = CompiledSchema::compile(source, modules, limits, build)?;
        if compiled.schema.has_functions() {
            return Ok(Ready::WithLua(compiled));
        }
        let schema = compiled.schema.clone();
        self.insert(key, |entry| entry.declarative = Some(schema.clone()));
        Ok(Ready::Declarative(schema))
    }

    /// Gives a VM back after use, unless it hit a limit.
    pub fn checkin(&self, source: &str, build: BuildSchema, compiled: CompiledSchema) {
        self.checkin_keyed(Self::key(source, build), compiled)
    }

    pub fn checkin_keyed(&self, key: Key, compiled: CompiledSchema) {
        if compiled.poisoned {
            return;
        }
        let max_idle = self.max_idle_per_schema;
        self.insert(key, move |entry| {
            if entry.idle.len() < max_idle {
                entry.idle.push(compiled);
            }
        });
    }

    fn insert(&self, key: Key, update: impl FnOnce(&mut Entry)) {
        let mut guard = self.entries.lock().expect("schema cache lock");
        let Entries { by_key, order } = &mut *guard;
        if !by_key.contains_key(&key) {
            while by_key.len() >= self.max_schemas && !order.is_empty() {
                let oldest = order.remove(0);
                by_key.remove(&oldest);
            }
            order.push(key);
        }
        update(by_key.entry(key).or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::errors::details;
    use crate::schema::validate::{Context, Engine};
    use serde_json::json;

    fn plain(value: &SchemaValue) -> Result<Schema, String> {
        Schema::parse(value, true).map_err(|e| e.to_string())
    }

    fn ping_auth() -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/ping-auth/schema.lua",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// ping-auth's record-level `custom_validator` runs in the warm VM, with the texts it
    /// gives in Kong (`tests/fixtures/ping-auth/schema.lua`).
    #[test]
    fn ping_auth_validator_runs_in_a_kept_vm() {
        let cache = SchemaCache::new(8, 2);
        let source = ping_auth();
        let Ready::WithLua(mut compiled) =
            cache.checkout(&source, plain, Limits::default()).unwrap()
        else {
            panic!("ping-auth has a validator");
        };
        let schema = compiled.schema.clone();
        let mut check = |config: Value| {
            let mut engine = Engine::new(&mut compiled, 1_000_000, 1.0);
            engine.check(&schema, &json!({ "config": config }), Context::Insert)
        };
        let ok = check(json!({"service_url": "https://example.com", "shared_secret": "s", "secret_header_name": "X"})).unwrap();
        assert_eq!(ok["config"]["connection_timeout_ms"], 10000);
        assert_eq!(ok["config"]["connection_keepAlive_ms"], 60000);
        let bad = check(json!({"service_url": "ftp://example.com", "shared_secret": "s", "secret_header_name": "X"})).unwrap_err();
        let d = details(&bad);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field.as_deref(), Some("config"));
        assert_eq!(
            d[0].messages,
            ["URL scheme must be either 'http' or 'https'"]
        );
        let blank = check(
            json!({"service_url": "https://", "shared_secret": "s", "secret_header_name": "X"}),
        )
        .unwrap_err();
        assert_eq!(details(&blank)[0].messages, ["URL host cannot be blank"]);
        cache.checkin(&source, plain, compiled);
        assert!(matches!(
            cache.checkout(&source, plain, Limits::default()).unwrap(),
            Ready::WithLua(_)
        ));
    }

    /// The typedefs' validators, value by value, with the texts of Kong 3.x's
    /// `kong/db/schema/typedefs.lua` (`None`: accepted).
    #[test]
    fn typedef_validators_give_kongs_texts() {
        let source = r#"local t = require "kong.db.schema.typedefs"
            return { name = "typedefs", fields = { { config = { type = "record", fields = {
              { sni = t.sni }, { wildcard_host = t.wildcard_host }, { cidr_v4 = t.cidr_v4 },
              { host = t.host }, { hosts = t.hosts }, { pem = t.pem }, { jwk = t.jwk },
              { url = t.url }, { ip = t.ip },
              { propagation = t.propagation { default = { default_format = "w3c" } } } } } } } }"#;
        let cache = SchemaCache::new(8, 2);
        let Ready::WithLua(mut compiled) =
            cache.checkout(source, plain, Limits::default()).unwrap()
        else {
            panic!("typedefs carry validators");
        };
        let schema = compiled.schema.clone();
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----";
        let cases: &[(&str, Value, Option<&str>)] = &[
            ("sni", json!("example.com"), None),
            ("sni", json!("10.0.0.1"), Some("must not be an IP")),
            (
                "sni",
                json!("example.com:443"),
                Some("must not have a port"),
            ),
            ("wildcard_host", json!("*.example.com"), None),
            ("wildcard_host", json!("example.*"), None),
            (
                "wildcard_host",
                json!("a.*.com"),
                Some("wildcard must be leftmost or rightmost character"),
            ),
            (
                "wildcard_host",
                json!("*.example.*"),
                Some("only one wildcard must be specified"),
            ),
            ("cidr_v4", json!("10.0.0.0/8"), None),
            // Kong's TODO: a bare IPv4 address passes too.
            ("cidr_v4", json!("10.1.2.3"), None),
            (
                "cidr_v4",
                json!("::1/128"),
                Some("invalid ipv4 cidr range: '::1/128'"),
            ),
            (
                "host",
                json!("example.com:80"),
                Some("must not have a port"),
            ),
            ("hosts", json!(["*.example.com", "example.com:8000"]), None),
            (
                "hosts",
                json!(["a*b*c"]),
                Some("invalid wildcard: must have at most one wildcard"),
            ),
            ("pem", json!({"public_key": pem}), None),
            ("pem", json!({"private_key": "{vault://env/key}"}), None),
            (
                "pem",
                json!({"public_key": "not a key"}),
                Some("could not load public key"),
            ),
            (
                "pem",
                json!({}),
                Some("at least one of these fields must be non-empty: 'private_key', 'public_key'"),
            ),
            (
                "jwk",
                json!({"kid": "k1", "kty": "RSA", "x5c": ["MIIB"]}),
                None,
            ),
            ("jwk", json!({"kty": "RSA"}), Some("required field missing")),
            (
                "propagation",
                json!({"extract": ["w3c", "b3"], "inject": ["preserve"], "default_format": "b3"}),
                None,
            ),
            (
                "propagation",
                json!({"extract": ["b3-single"], "default_format": "w3c"}),
                Some("expected one of: w3c, b3, jaeger, ot, datadog, aws, gcp"),
            ),
            (
                "propagation",
                json!({"clear": ["bad header"], "default_format": "w3c"}),
                Some(
                    "bad header name 'bad header', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                ),
            ),
            (
                "propagation",
                json!({"extract": ["w3c"]}),
                Some("required field missing"),
            ),
            ("url", json!("https://example.com/x"), None),
            // luasocket's `url.parse` finds no host without `//`, and Kong checks the host
            // first (kong/db/schema/typedefs.lua `validate_url`).
            ("url", json!("example.com"), Some("missing host in url")),
            ("url", json!("//example.com"), Some("missing scheme in url")),
            (
                "ip",
                json!("300.1.1.1"),
                Some("not an ip address: 300.1.1.1"),
            ),
        ];
        for (field, value, expected) in cases {
            let mut engine = Engine::new(&mut compiled, 1_000_000, 1.0);
            let outcome = engine.check(
                &schema,
                &json!({ "config": { *field: value } }),
                Context::Insert,
            );
            match (outcome, expected) {
                (Ok(_), None) => {}
                (Err(errors), Some(text)) => {
                    let found = details(&errors)
                        .iter()
                        .flat_map(|d| d.messages.clone())
                        .collect::<Vec<_>>();
                    assert!(
                        found.iter().any(|m| m == text),
                        "{field} {value}: {found:?}"
                    );
                }
                (outcome, _) => panic!("{field} {value}: {outcome:?}"),
            }
        }
    }

    /// A validator that loops is stopped by the deadline, reported as the field's error,
    /// and its VM is not reused.
    #[test]
    fn a_looping_validator_times_out_and_its_vm_is_dropped() {
        let source = r#"return { name = "loop", fields = { { config = { type = "record",
            fields = { { a = { type = "string", custom_validator = function(v) while true do end end } } } } } } }"#;
        let limits = Limits {
            deadline: std::time::Duration::from_millis(50),
            ..Limits::default()
        };
        let cache = SchemaCache::new(8, 2);
        let Ready::WithLua(mut compiled) = cache.checkout(source, plain, limits).unwrap() else {
            panic!("has a validator");
        };
        let schema = compiled.schema.clone();
        let errors = Engine::new(&mut compiled, 1000, 1.0)
            .check(&schema, &json!({"config": {"a": "x"}}), Context::Insert)
            .unwrap_err();
        let d = details(&errors);
        assert_eq!(d[0].field.as_deref(), Some("config.a"));
        assert!(d[0].messages[0].contains("time limit"), "{d:?}");
        cache.checkin(source, plain, compiled);
        let entries = cache.entries.lock().unwrap();
        assert!(
            entries
                .by_key
                .get(&SchemaCache::key(source, plain))
                .is_none_or(|e| e.idle.is_empty())
        );
    }

    #[test]
    fn declarative_schemas_are_shared_without_a_vm() {
        let source = r#"return { name = "d", fields = { { config = { type = "record", fields = { { n = { type = "integer", default = 3 } } } } } } }"#;
        let cache = SchemaCache::new(8, 2);
        assert!(matches!(
            cache.checkout(source, plain, Limits::default()).unwrap(),
            Ready::Declarative(_)
        ));
        assert!(
            cache
                .declarative(&SchemaCache::key(source, plain))
                .is_some()
        );
    }
}
