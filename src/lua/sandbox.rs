//! A fresh, locked-down LuaJIT VM per evaluation, in layers (the threat model is in
//! `docs/threat-model.md`; the environment follows Kong's schema sandbox, `kong/tools/sandbox/`).
//!
//! - L0: the source is capped and must be text (checked by [`evaluate_schema`]'s caller
//!   and again here: no NUL, no bytecode signature).
//! - L1: only the string, table, math and bit libraries are opened. Without the `jit`
//!   library LuaJIT's JIT stays off, so the instruction hook always fires.
//! - L2: the chunk sees a whitelisted environment ([`PRELUDE`]) with read-only library
//!   views and its own writable globals; `require` serves only our own modules
//!   ([`super::modules`]): Kong's sandbox modules for uploads, a few more for bundled schemas.
//! - L3: a memory limit, and a global hook (it follows coroutines) that raises once the
//!   wall-clock deadline passes; `pcall`/`xpcall` re-raise after the deadline.
//! - L4: the pattern functions are Rust versions with a step budget ([`super::strlib`]),
//!   since a backtracking pattern runs inside one C call where no hook fires.
//! - L5: the result is copied out by raw traversal with depth, size, type and shape checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::{Error, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::limits_hit::{self, Limit};
use super::lua_syntax;
use super::modules::{self, ModuleSet};
use crate::schema::value::SchemaValue;

const PRELUDE: &str = include_str!("prelude.lua");
const TIMEOUT_MESSAGE: &str = "konnektd: Lua time limit exceeded";
/// Kong schemas nest a handful of levels; anything deeper is hostile or broken.
const MAX_DEPTH: usize = 32;
/// Tables and values copied out of one result, at most.
const MAX_NODES: usize = 100_000;

/// Per-evaluation limits; every one is a setting of `konnektd serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub pattern_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(500),
            memory_bytes: 64 << 20,
            pattern_steps: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LuaError {
    /// A syntax or runtime error, with Lua's own `[string "..."]:N: ...` text.
    #[error("{0}")]
    Lua(String),
    #[error("the schema took longer than the Lua time limit of {0:?}")]
    Timeout(Duration),
    #[error("the schema used more than the Lua memory limit of {0} bytes")]
    OutOfMemory(usize),
    /// The chunk ran but returned something a schema cannot be.
    #[error("{0}")]
    BadResult(String),
}

/// One VM with its environment. Built per evaluation and dropped afterwards, so no
/// state leaks from one upload or tenant to the next.
pub struct Sandbox {
    lua: Lua,
    env: Table,
    limits: Limits,
    deadline: Arc<Mutex<Instant>>,
    expired: Arc<AtomicBool>,
}

impl Sandbox {
    /// A VM for an uploaded schema: `require` serves Kong's sandbox modules only.
    pub fn new(limits: Limits) -> Result<Self, LuaError> {
        Self::with_modules(limits, ModuleSet::Uploaded)
    }

    pub fn with_modules(limits: Limits, modules: ModuleSet) -> Result<Self, LuaError> {
        let internal = |e: Error| LuaError::Lua(format!("sandbox setup failed: {e}"));
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::BIT,
            LuaOptions::default(),
        )
        .map_err(internal)?;
        // Refuse to run untrusted code at all without memory control.
        lua.set_memory_limit(limits.memory_bytes)
            .map_err(internal)?;
        let deadline = Arc::new(Mutex::new(Instant::now() + limits.deadline));
        let expired = Arc::new(AtomicBool::new(false));
        {
            let deadline = deadline.clone();
            let expired = expired.clone();
            lua.set_global_hook(
                HookTriggers::new().every_nth_instruction(1000),
                move |_, _| {
                    let due = *deadline.lock().expect("deadline lock");
                    if expired.load(Ordering::Relaxed) {
                        Err(Error::runtime(TIMEOUT_MESSAGE))
                    } else if Instant::now() >= due {
                        expired.store(true, Ordering::Relaxed);
                        limits_hit::note(Limit::Time);
                        Err(Error::runtime(TIMEOUT_MESSAGE))
                    } else {
                        Ok(VmState::Continue)
                    }
                },
            )
            .map_err(internal)?;
        }
        let globals = lua.globals();
        let string: Table = globals.get("string").map_err(internal)?;
        // `("").dump` reaches the real string table through the string metatable.
        string.raw_set("dump", Value::Nil).map_err(internal)?;
        super::strlib::install(&lua, &string, limits.pattern_steps).map_err(internal)?;
        let flag = expired.clone();
        let is_expired = lua
            .create_function(move |_, ()| Ok(flag.load(Ordering::Relaxed)))
            .map_err(internal)?;
        let noop = lua
            .create_function(|_, _: mlua::MultiValue| Ok(()))
            .map_err(internal)?;
        let memory_hit = lua
            .create_function(|_, ()| {
                limits_hit::note(Limit::Memory);
                Ok(())
            })
            .map_err(internal)?;
        let env: Table = lua
            .load(PRELUDE)
            .set_name("=konnektd prelude")
            .set_mode(ChunkMode::Text)
            .call((globals, is_expired, Value::NULL, noop, memory_hit))
            .map_err(internal)?;
        let sandbox = Sandbox {
            lua,
            env,
            limits,
            deadline,
            expired,
        };
        sandbox.install_require(modules).map_err(internal)?;
        Ok(sandbox)
    }

    fn install_require(&self, set: ModuleSet) -> mlua::Result<()> {
        let env = self.env.clone();
        // Typedefs are callable tables; only our own modules get `setmetatable`, and the
        // syntax check `typedefs.lua_code` runs (Kong's `sandbox.validate_safe`).
        let setmetatable: mlua::Function = self.lua.globals().get("setmetatable")?;
        let check_syntax = lua_syntax::check_function(&self.lua)?;
        let loaded: Arc<Mutex<HashMap<&'static str, mlua::RegistryKey>>> = Arc::default();
        let natives: Arc<Mutex<HashMap<modules::Native, mlua::RegistryKey>>> = Arc::default();
        let require = self.lua.create_function(move |lua, name: Value| {
            let name = match &name {
                Value::String(s) => s.to_string_lossy(),
                other => other.to_string().unwrap_or_default(),
            };
            if let Some(native) = modules::native(&name, set) {
                let mut cached = natives.lock().expect("native module lock");
                if let Some(key) = cached.get(&native) {
                    return lua.registry_value::<Value>(key);
                }
                let module = Value::Table(match native {
                    modules::Native::LuaSyntax => lua_syntax::module(lua)?,
                    modules::Native::Regex => regex_check_module(lua)?,
                });
                cached.insert(native, lua.create_registry_value(module.clone())?);
                return Ok(module);
            }
            let Some(module) = modules::find(&name, set) else {
                return Err(Error::runtime(format!(
                    "require '{name}' not allowed within sandbox"
                )));
            };
            if let Some(key) = loaded.lock().expect("require cache lock").get(module.name) {
                return lua.registry_value::<Value>(key);
            }
            // Not holding the lock: a module may require another.
            let value: Value = lua
                .load(module.source)
                .set_name(format!("={}", module.name))
                .set_mode(ChunkMode::Text)
                .set_environment(env.clone())
                .call((setmetatable.clone(), check_syntax.clone()))?;
            let key = lua.create_registry_value(value.clone())?;
            loaded
                .lock()
                .expect("require cache lock")
                .insert(module.name, key);
            Ok(value)
        })?;
        self.env.raw_set("require", require)
    }

    /// Starts the clock for one piece of work.
    fn arm(&self) {
        *self.deadline.lock().expect("deadline lock") = Instant::now() + self.limits.deadline;
        self.expired.store(false, Ordering::Relaxed);
    }

    /// Runs a schema chunk with no arguments, as Konnect does, and copies its result out.
    pub fn eval_schema(&self, source: &str) -> Result<SchemaValue, LuaError> {
        self.eval_schema_keeping_functions(source)
            .map(|(value, _)| value)
    }

    /// Like [`Sandbox::eval_schema`], also returning the functions the schema holds:
    /// `SchemaValue::Function(i)` is `functions[i]`, callable with [`Sandbox::call`].
    pub fn eval_schema_keeping_functions(
        &self,
        source: &str,
    ) -> Result<(SchemaValue, Vec<mlua::Function>), LuaError> {
        check_source(source)?;
        self.arm();
        let result = self
            .lua
            .load(source)
            // Lua names a string chunk after its source: `[string "first line..."]:N:`.
            .set_name(source)
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .eval::<Value>();
        let value = result.map_err(|e| self.classify(e))?;
        let mut copier = Copier {
            budget: MAX_NODES,
            functions: Vec::new(),
        };
        let copied = copier.copy_out(&value, 0)?;
        Ok((copied, copier.functions))
    }

    /// Calls one of the schema's functions (a validator, an entity check, a shorthand)
    /// under the same deadline as an evaluation, with JSON arguments (`null` as
    /// `ngx.null`). Returns its first two results; `None` is Lua's `nil`.
    pub fn call(
        &self,
        function: &mlua::Function,
        argument: &serde_json::Value,
    ) -> Result<[Option<serde_json::Value>; 2], LuaError> {
        use mlua::LuaSerdeExt;
        let internal = |e: Error| LuaError::Lua(clean_message(&e.to_string()));
        let argument = super::json_args::to_lua(&self.lua, argument).map_err(internal)?;
        self.arm();
        let results: (Value, Value) = function.call(argument).map_err(|e| self.classify(e))?;
        let mut out = [None, None];
        for (slot, value) in out.iter_mut().zip([&results.0, &results.1]) {
            *slot = match value {
                Value::Nil => None,
                Value::Boolean(b) => Some(serde_json::Value::Bool(*b)),
                // Messages may carry bytes that are not UTF-8 (a decoded path): keep them, lossily.
                Value::String(text) => Some(serde_json::Value::String(text.to_string_lossy())),
                other => Some(
                    self.lua
                        .from_value::<serde_json::Value>(other.clone())
                        .unwrap_or_else(|_| {
                            serde_json::Value::String(other.to_string().unwrap_or_default())
                        }),
                ),
            };
        }
        Ok(out)
    }

    fn classify(&self, e: Error) -> LuaError {
        if self.expired.load(Ordering::Relaxed) {
            return LuaError::Timeout(self.limits.deadline);
        }
        match root_cause(&e) {
            Error::MemoryError(_) => {
                // Only a memory error that ends the evaluation is seen here: one the
                // schema catches with `pcall` goes unnoted (mlua reports no allocation
                // failure anywhere else).
                limits_hit::note(Limit::Memory);
                LuaError::OutOfMemory(self.limits.memory_bytes)
            }
            Error::SyntaxError { message, .. } => LuaError::Lua(clean_message(message)),
            Error::RuntimeError(message) => LuaError::Lua(clean_message(message)),
            other => LuaError::Lua(clean_message(&other.to_string())),
        }
    }
}

/// `require "konnektd.regex"`: `check(pattern)` answers whether the pattern compiles
/// ([`crate::schema::pcre`]); a non-string is not a pattern.
fn regex_check_module(lua: &Lua) -> mlua::Result<Table> {
    let check = lua.create_function(|_, pattern: Value| {
        Ok(match pattern {
            Value::String(s) => s.to_str().is_ok_and(|p| crate::schema::pcre::compiles(&p)),
            _ => false,
        })
    })?;
    let module = lua.create_table()?;
    module.raw_set("check", check)?;
    Ok(module)
}

/// Evaluates `source` in a fresh sandbox.
pub fn evaluate_schema(source: &str, limits: Limits) -> Result<SchemaValue, LuaError> {
    Sandbox::new(limits)?.eval_schema(source)
}

/// Refuses what must never reach the VM: bytecode and embedded NULs.
fn check_source(source: &str) -> Result<(), LuaError> {
    if source.as_bytes().first() == Some(&0x1b) {
        return Err(LuaError::BadResult(
            "lua_schema must be Lua source text, not bytecode".into(),
        ));
    }
    if source.contains('\0') {
        return Err(LuaError::BadResult(
            "lua_schema must not contain NUL bytes".into(),
        ));
    }
    Ok(())
}

pub(super) fn root_cause(e: &Error) -> &Error {
    match e {
        Error::CallbackError { cause, .. } => root_cause(cause),
        Error::WithContext { cause, .. } => root_cause(cause),
        other => other,
    }
}

/// Lua's message without a traceback and without heap addresses (`table: 0x...`).
fn clean_message(message: &str) -> String {
    let message = message
        .split("\nstack traceback:")
        .next()
        .unwrap_or(message)
        .trim_end();
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex >= 6 {
            out.push_str("0x?");
        } else {
            out.push_str(&rest[i..i + 2 + hex]);
        }
        rest = &after[hex..];
    }
    out.push_str(rest);
    out
}

fn bad(reason: impl Into<String>) -> LuaError {
    LuaError::BadResult(reason.into())
}

/// Copies a schema's value out of the VM, keeping its functions aside.
struct Copier {
    budget: usize,
    functions: Vec<mlua::Function>,
}

impl Copier {
    /// Copies a Lua value out by raw access only: no metamethod of the result ever runs.
    fn copy_out(&mut self, value: &Value, depth: usize) -> Result<SchemaValue, LuaError> {
        if self.budget == 0 {
            return Err(bad("the schema is too large"));
        }
        self.budget -= 1;
        Ok(match value {
            Value::Nil => return Err(bad("invalid schema for plugin: cannot be empty")),
            Value::LightUserData(p) if p.0.is_null() => SchemaValue::Null,
            Value::Boolean(b) => SchemaValue::Bool(*b),
            Value::Integer(n) => SchemaValue::Number(*n as f64),
            Value::Number(n) if n.is_finite() => SchemaValue::Number(*n),
            Value::Number(_) => return Err(bad("the schema contains a number that is not finite")),
            Value::String(s) => SchemaValue::String(
                s.to_str()
                    .map_err(|_| bad("the schema contains a string that is not valid UTF-8"))?
                    .to_string(),
            ),
            Value::Function(f) => {
                self.functions.push(f.clone());
                SchemaValue::Function(self.functions.len() as u32 - 1)
            }
            Value::Table(t) => {
                if depth >= MAX_DEPTH {
                    return Err(bad(format!(
                        "the schema nests tables deeper than {MAX_DEPTH} levels (or refers to itself)"
                    )));
                }
                self.copy_table(t, depth)?
            }
            other => {
                return Err(bad(format!(
                    "the schema contains a value of type {} that a schema cannot hold",
                    other.type_name()
                )));
            }
        })
    }

    fn copy_table(&mut self, t: &Table, depth: usize) -> Result<SchemaValue, LuaError> {
        let mut by_index: Vec<(i64, SchemaValue)> = Vec::new();
        let mut by_name: Vec<(String, SchemaValue)> = Vec::new();
        let mut failure = None;
        let walk = t.for_each::<Value, Value>(|key, value| {
            let copied = match self.copy_out(&value, depth + 1) {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(e);
                    return Err(Error::runtime("stop"));
                }
            };
            match key {
                Value::Integer(i) => by_index.push((i, copied)),
                Value::Number(n) if n == n.trunc() && n.abs() < 1e15 => {
                    by_index.push((n as i64, copied))
                }
                Value::String(s) => match s.to_str() {
                    Ok(s) => by_name.push((s.to_string(), copied)),
                    Err(_) => {
                        failure = Some(bad("the schema contains a key that is not valid UTF-8"));
                        return Err(Error::runtime("stop"));
                    }
                },
                _ => {
                    failure = Some(bad("schema tables may only have string keys or be arrays"));
                    return Err(Error::runtime("stop"));
                }
            }
            Ok(())
        });
        if let Some(e) = failure {
            return Err(e);
        }
        walk.map_err(|e| LuaError::Lua(clean_message(&e.to_string())))?;
        match (by_index.is_empty(), by_name.is_empty()) {
            (true, true) => Ok(SchemaValue::EmptyTable),
            (true, false) => {
                by_name.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(SchemaValue::Object(by_name))
            }
            (false, true) => {
                by_index.sort_by_key(|(i, _)| *i);
                let contiguous = by_index
                    .iter()
                    .enumerate()
                    .all(|(n, (i, _))| *i == n as i64 + 1);
                if !contiguous {
                    return Err(bad("schema arrays must have no holes (keys 1 to n)"));
                }
                Ok(SchemaValue::Array(
                    by_index.into_iter().map(|(_, v)| v).collect(),
                ))
            }
            (false, false) => Err(bad("a schema table mixes array items and named keys")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<SchemaValue, LuaError> {
        evaluate_schema(src, Limits::default())
    }

    #[test]
    fn a_plain_table_comes_out_sorted_and_typed() {
        let v = eval("return { name = 'x', fields = { { a = { type = 'string', default = ngx.null } } }, n = 1.5 }").unwrap();
        assert_eq!(v.get("name"), Some(&SchemaValue::String("x".into())));
        assert_eq!(v.get("n"), Some(&SchemaValue::Number(1.5)));
        let fields = v.get("fields").unwrap().items().unwrap();
        let a = fields[0].get("a").unwrap();
        assert_eq!(a.get("default"), Some(&SchemaValue::Null));
    }

    #[test]
    fn errors_keep_luas_chunk_name_and_line() {
        let e = eval("-- first line\nlocal x = nil\nreturn x.y").unwrap_err();
        assert_eq!(
            e,
            LuaError::Lua(
                "[string \"-- first line...\"]:3: attempt to index local 'x' (a nil value)".into()
            )
        );
        let e = eval("return {").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.starts_with("[string \"return {\"]:1:")),
            "{e:?}"
        );
    }

    #[test]
    fn lua_syntax_compiles_bundled_schemas_code_without_running_it() {
        let sandbox = Sandbox::with_modules(Limits::default(), ModuleSet::Bundled).unwrap();
        let v = sandbox
            .eval_schema(
                r#"local s = require "konnektd.lua_syntax"
                local ran = false
                _G.mark = function() ran = true end
                local ok1 = s.check("mark() error('never') while true do end")
                local ok2, err2 = s.check("print(")
                local ok3, err3 = s.check("\27LJ\2")
                local ok4, err4 = s.check("x = \n= 1")
                return { ok1 = ok1, ran = ran, ok2 = tostring(ok2), err2 = err2,
                         ok3 = tostring(ok3), err3 = err3, err4 = err4 }"#,
            )
            .unwrap();
        let text = |k: &str| v.get(k).cloned();
        let s = |x: &str| Some(SchemaValue::String(x.into()));
        assert_eq!(text("ok1"), Some(SchemaValue::Bool(true)));
        assert_eq!(text("ran"), Some(SchemaValue::Bool(false)));
        // Kong's pre-function spec: `[string "print("]:1: unexpected symbol near '<eof>'`.
        assert_eq!(text("ok2"), s("nil"));
        assert_eq!(
            text("err2"),
            s("[string \"print(\"]:1: unexpected symbol near '<eof>'")
        );
        assert_eq!(text("ok3"), s("nil"));
        assert!(matches!(text("err3"), Some(SchemaValue::String(m)) if m.contains("binary")));
        assert_eq!(
            text("err4"),
            s("[string \"x = ...\"]:2: unexpected symbol near '='")
        );
        // Uploads get no compiler.
        let e = eval("return require 'konnektd.lua_syntax'").unwrap_err();
        assert!(matches!(&e, LuaError::Lua(m) if m.contains("not allowed within sandbox")));
    }

    #[test]
    fn the_environment_has_no_escape_hatches() {
        for global in [
            "os",
            "io",
            "package",
            "debug",
            "jit",
            "ffi",
            "load",
            "loadstring",
            "dofile",
            "loadfile",
            "getfenv",
            "setfenv",
            "getmetatable",
            "setmetatable",
            "newproxy",
            "collectgarbage",
            "gcinfo",
            "module",
            "coroutine",
            "rawset",
        ] {
            let v = eval(&format!("return {{ t = type({global}) }}")).unwrap();
            assert_eq!(
                v.get("t"),
                Some(&SchemaValue::String("nil".into())),
                "{global}"
            );
        }
        let v = eval("return { t = type(string.dump), u = type((\"\").dump) }").unwrap();
        assert_eq!(v.get("t"), Some(&SchemaValue::String("nil".into())));
        assert_eq!(v.get("u"), Some(&SchemaValue::String("nil".into())));
    }

    #[test]
    fn libraries_are_read_only_but_globals_are_writable() {
        let e = eval("string.upper = nil return {}").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.ends_with("Cannot modify string.upper. Protected by the sandbox.")),
            "{e:?}"
        );
        let v = eval("x, _ = table.unpack({1, 2}) return { x = x, y = _G.x }").unwrap();
        assert_eq!(v.get("y"), Some(&SchemaValue::Number(1.0)));
    }

    #[test]
    fn require_serves_typedefs_only() {
        let e = eval("local http = require 'socket.http' return {}").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.contains("require 'socket.http' not allowed within sandbox")),
            "{e:?}"
        );
        let e = eval("require 'string.buffer' return {}").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.contains("not allowed within sandbox")),
            "{e:?}"
        );
    }

    #[test]
    fn typedefs_are_callable_copies_with_overrides() {
        let v = eval(
            "local typedefs = require 'kong.db.schema.typedefs'
             return { fields = { { port = typedefs.port { default = 6379 } }, { p = typedefs.port } } }",
        )
        .unwrap();
        let fields = v.get("fields").unwrap().items().unwrap();
        let port = fields[0].get("port").unwrap();
        assert_eq!(port.get("default"), Some(&SchemaValue::Number(6379.0)));
        assert_eq!(
            port.get("type"),
            Some(&SchemaValue::String("integer".into()))
        );
        assert_eq!(
            fields[1].get("p").unwrap().get("default"),
            None,
            "the typedef itself is unchanged"
        );
        let e =
            eval("local t = require 'kong.db.schema.typedefs' return { x = t.nope }").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.contains("schema typedef error: definition nope does not exist")),
            "{e:?}"
        );
    }

    #[test]
    fn every_typedef_renders_as_a_field_definition() {
        let names = [
            "http_method",
            "protocol",
            "protocols",
            "protocols_http",
            "host",
            "host_with_optional_port",
            "wildcard_host",
            "sni",
            "ip",
            "ip_or_cidr",
            "cidr_v4",
            "port",
            "path",
            "url",
            "timeout",
            "uuid",
            "auto_timestamp_s",
            "auto_timestamp_ms",
            "no_route",
            "no_service",
            "no_consumer",
            "name",
            "utf8_name",
            "header_name",
            "tag",
            "tags",
            "semantic_version",
            "lua_code",
            "queue",
            "certificate",
            "key",
            "cookie_name",
            "methods",
            "hosts",
            "router_path",
            "router_paths",
            "headers",
            "sources",
            "destinations",
            "ttl",
            "redis_host",
            "redis_server_name",
        ];
        let fields: Vec<String> = names.iter().map(|n| format!("{{ {n} = t.{n} }}")).collect();
        let src = format!(
            "local t = require 'kong.db.schema.typedefs' return {{ {} }}",
            fields.join(", ")
        );
        let v = eval(&src).unwrap();
        for (entry, name) in v.items().unwrap().iter().zip(names) {
            let def = entry.get(name).unwrap_or_else(|| panic!("{name}"));
            assert!(
                def.get("type").and_then(SchemaValue::as_str).is_some(),
                "{name}: {def:?}"
            );
        }
    }

    #[test]
    fn endless_loops_stop_at_the_deadline_even_behind_pcall() {
        let limits = Limits {
            deadline: Duration::from_millis(100),
            ..Limits::default()
        };
        for src in [
            "while true do end",
            "local function spin() while true do end end while true do pcall(spin) end",
            "local function spin() while true do end end while true do xpcall(spin, function() while true do end end) end",
            "xpcall(function() error('x') end, function() while true do end end)",
            "local function f() return f() end return f()",
        ] {
            let started = Instant::now();
            let e = evaluate_schema(src, limits).unwrap_err();
            assert_eq!(e, LuaError::Timeout(limits.deadline), "{src}");
            assert!(started.elapsed() < Duration::from_secs(2), "{src}");
        }
    }

    #[test]
    fn memory_bombs_hit_the_memory_limit() {
        let limits = Limits {
            memory_bytes: 16 << 20,
            ..Limits::default()
        };
        for src in [
            "local s = 'x' while true do s = s .. s end",
            "return { s = string.rep('x', 2^30) }",
            "local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end",
        ] {
            let e = evaluate_schema(src, limits).unwrap_err();
            assert_eq!(e, LuaError::OutOfMemory(16 << 20), "{src}");
        }
    }

    #[test]
    fn results_that_cannot_be_a_schema_are_refused() {
        for (src, expected) in [
            ("return nil", "invalid schema for plugin: cannot be empty"),
            (
                "return { a = 0/0 }",
                "the schema contains a number that is not finite",
            ),
            (
                "return { [1] = 'a', [3] = 'c' }",
                "schema arrays must have no holes (keys 1 to n)",
            ),
            (
                "return { 'a', b = 1 }",
                "a schema table mixes array items and named keys",
            ),
            (
                "local t = {} t.t = t return t",
                "the schema nests tables deeper than 32 levels (or refers to itself)",
            ),
            (
                "return { s = '\\255' }",
                "the schema contains a string that is not valid UTF-8",
            ),
            (
                "local t = {} for i = 1, 20 do t = { t, t } end return t",
                "the schema is too large",
            ),
        ] {
            assert_eq!(
                eval(src).unwrap_err(),
                LuaError::BadResult(expected.into()),
                "{src}"
            );
        }
    }

    #[test]
    fn bytecode_and_nul_bytes_never_reach_the_vm() {
        assert!(matches!(eval("\x1bLJ\x02"), Err(LuaError::BadResult(_))));
        assert!(matches!(eval("return {}\0"), Err(LuaError::BadResult(_))));
    }

    #[test]
    fn error_texts_do_not_leak_addresses() {
        let e = eval("error(tostring({}))").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.contains("table: 0x?") && !m.contains("0x7")),
            "{e:?}"
        );
    }

    #[test]
    fn unpack_refuses_huge_ranges() {
        let e = eval("return { unpack({}, -2^31, 2^31 - 1) }").unwrap_err();
        assert!(
            matches!(&e, LuaError::Lua(m) if m.contains("too many results to unpack")),
            "{e:?}"
        );
    }
}
