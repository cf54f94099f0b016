//! Compiling Lua without running it: `require "konnektd.lua_syntax"` for the bundled
//! pre-/post-function schemas (Kong calls `loadstring(code)`), and the check behind
//! `typedefs.lua_code` (Kong's `kong.tools.sandbox.validate_safe`).
//!
//! The chunk is named after the code, as `loadstring` names it, so the message is Kong's
//! `[string "<first line>..."]:N: ...`. Text only: Kong's `loadstring` would also take
//! LuaJIT bytecode, which konnektd refuses with the loader's message. The compiler runs
//! under the VM's memory limit; it is linear in the code's length and LuaJIT caps its
//! nesting, so it needs no hook.

use mlua::chunk::ChunkMode;
use mlua::{Error, Function, Lua, Table, Value};

use super::sandbox::root_cause;

/// `check(code[, chunk_name])`: `true`, or `nil` and the compiler's message. The compiled
/// function is dropped unrun. The chunk is named after the code unless a name is given
/// (penlight's templates compile as `"TMP"`).
pub fn check_function(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(
        |lua, (code, chunk_name): (mlua::LuaString, Option<String>)| {
            let bytes = code.as_bytes();
            // The C chunk name ends at the first NUL, as it does for Kong's `loadstring`.
            let name_end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            let name = chunk_name
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..name_end]).into_owned());
            let compiled = lua
                .load(&bytes[..])
                .set_name(name)
                .set_mode(ChunkMode::Text)
                .into_function();
            match compiled {
                Ok(_never_called) => Ok((Value::Boolean(true), Value::Nil)),
                Err(e) => match root_cause(&e) {
                    Error::MemoryError(_) => Err(e),
                    Error::SyntaxError { message, .. } | Error::RuntimeError(message) => {
                        Ok((Value::Nil, Value::String(lua.create_string(message)?)))
                    }
                    other => Ok((
                        Value::Nil,
                        Value::String(lua.create_string(other.to_string())?),
                    )),
                },
            }
        },
    )
}

/// The `konnektd.lua_syntax` module: `{ check = check_function }`.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let module = lua.create_table()?;
    module.raw_set("check", check_function(lua)?)?;
    Ok(module)
}
