//! Custom plugin schemas as stored: the Lua source and its JSON renderings.

use serde_json::Value;

use super::Timestamp;
use super::bundled_plugins::is_bundled;

/// `lua_schema` larger than this is refused before any Lua runs (configurable).
pub const DEFAULT_MAX_LUA_SCHEMA_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredPluginSchema {
    pub name: String,
    pub lua_schema: String,
    pub json: Value,
    pub merged_json: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Why a schema name cannot be a custom plugin's.
pub fn check_custom_name(name: &str) -> Result<(), String> {
    // Koko's rule for derived names (internal/resource/plugin_schema.go), plus `_`,
    // which Kong plugin names may carry.
    let valid = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "invalid plugin name '{name}': it must have 1 to 128 characters of a-z, A-Z, 0-9, '-' and '_'"
        ));
    }
    if is_bundled(name) {
        // Koko's wording (internal/plugin/validators/lua_validator.go).
        return Err(format!(
            "unique constraint failed: schema already exists for plugin '{name}'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_and_malformed_names_are_refused() {
        assert!(check_custom_name("ping-auth").is_ok());
        assert!(check_custom_name("my_plugin2").is_ok());
        assert!(
            check_custom_name("rate-limiting")
                .unwrap_err()
                .contains("schema already exists")
        );
        assert!(check_custom_name("").is_err());
        assert!(check_custom_name("a b").is_err());
        assert!(check_custom_name(&"a".repeat(129)).is_err());
    }
}
