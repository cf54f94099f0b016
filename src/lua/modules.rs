//! The modules a schema may `require`. Kong's schema sandbox (`kong/tools/sandbox` in Kong
//! 3.10) lets an uploaded schema require `kong.db.schema.typedefs` and
//! `kong.tools.redis.schema`; konnektd's own bundled-plugin schemas may also require the
//! modules Kong's bundled plugins share (the LLM records of the `ai-*` plugins). Every
//! module here is konnektd's own text.

/// Who is evaluating: an upload gets Kong's sandbox modules, konnektd's own bundled
/// schemas every module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModuleSet {
    Uploaded,
    Bundled,
}

pub struct Module {
    pub name: &'static str,
    pub source: &'static str,
    /// Whether an uploaded schema may require it.
    pub for_uploads: bool,
}

pub const TYPEDEFS_MODULE: &str = "kong.db.schema.typedefs";

/// konnektd's own native module for the bundled pre-/post-function schemas: `check(code)`
/// compiles Lua source text without ever running it and answers `true`, or `nil` and the
/// compiler's message, as Kong's `loadstring(code)` would. Bundled schemas only: an upload
/// gets no compiler.
pub const LUA_SYNTAX_MODULE: &str = "konnektd.lua_syntax";

/// konnektd's own native module for bundled schemas that compile patterns with PCRE in
/// Kong (cors' origins): `check(pattern)` answers whether it compiles
/// (`crate::schema::pcre`).
pub const REGEX_MODULE: &str = "konnektd.regex";

/// The native (Rust) modules, built per VM by `super::sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Native {
    LuaSyntax,
    Regex,
}

/// The native module of that name, if `set` may require it.
pub fn native(name: &str, set: ModuleSet) -> Option<Native> {
    if set != ModuleSet::Bundled {
        return None;
    }
    match name {
        LUA_SYNTAX_MODULE => Some(Native::LuaSyntax),
        REGEX_MODULE => Some(Native::Regex),
        _ => None,
    }
}

const MODULES: &[Module] = &[
    Module {
        name: TYPEDEFS_MODULE,
        source: include_str!("typedefs.lua"),
        for_uploads: true,
    },
    Module {
        name: "kong.tools.redis.schema",
        source: include_str!("modules/redis_schema.lua"),
        for_uploads: true,
    },
    Module {
        name: "kong.llm.schemas",
        source: include_str!("modules/llm_schemas.lua"),
        for_uploads: false,
    },
];

/// The module of that name, if `set` may require it.
pub fn find(name: &str, set: ModuleSet) -> Option<&'static Module> {
    MODULES
        .iter()
        .find(|m| m.name == name && (m.for_uploads || set == ModuleSet::Bundled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_get_kongs_sandbox_modules_only() {
        assert!(find(TYPEDEFS_MODULE, ModuleSet::Uploaded).is_some());
        assert!(find("kong.tools.redis.schema", ModuleSet::Uploaded).is_some());
        assert!(find("kong.llm.schemas", ModuleSet::Uploaded).is_none());
        assert!(find("kong.llm.schemas", ModuleSet::Bundled).is_some());
        assert!(find("kong.constants", ModuleSet::Bundled).is_none());
        assert_eq!(
            native(LUA_SYNTAX_MODULE, ModuleSet::Bundled),
            Some(Native::LuaSyntax)
        );
        assert_eq!(
            native(REGEX_MODULE, ModuleSet::Bundled),
            Some(Native::Regex)
        );
        assert_eq!(native(LUA_SYNTAX_MODULE, ModuleSet::Uploaded), None);
        assert_eq!(native(REGEX_MODULE, ModuleSet::Uploaded), None);
    }
}
