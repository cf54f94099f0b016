//! A JSON value as the argument of a schema's Lua function: the same tables `mlua`'s
//! serde serializer builds (`to_value_with`, no array metatable, `null` as `ngx.null`,
//! tables sized as it sizes them and filled in the same order, so `pairs` walks them
//! alike), built with one protected call per table instead of a few per value: strings
//! are pushed straight onto the stack, with no registry reference each.

use mlua::{Either, Error, Lua, Result, Value};
use serde_json::Value as Json;

/// Nested tables, at most: `mlua`'s serializer's default limit, with its error.
const RECURSION_LIMIT: usize = 128;

/// `value` as a Lua value.
pub(super) fn to_lua(lua: &Lua, value: &Json) -> Result<Value> {
    Ok(match convert(lua, value, RECURSION_LIMIT)? {
        Either::Left(text) => Value::String(lua.create_string(text)?),
        Either::Right(value) => value,
    })
}

/// A string is left as text, to be pushed where it goes.
fn convert<'v>(lua: &Lua, value: &'v Json, limit: usize) -> Result<Either<&'v str, Value>> {
    Ok(Either::Right(match value {
        Json::Null => Value::NULL,
        Json::Bool(b) => Value::Boolean(*b),
        // LuaJIT numbers are doubles: the serializer's integers become these same ones.
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or_default()),
        Json::String(text) => return Ok(Either::Left(text)),
        Json::Array(items) => {
            let limit = descend(limit)?;
            let mut failure = None;
            let table = lua.create_sequence_from(
                items
                    .iter()
                    .map(|item| item_or_failure(lua, item, limit, &mut failure)),
            )?;
            if let Some(e) = failure {
                return Err(e);
            }
            Value::Table(table)
        }
        Json::Object(map) => {
            let limit = descend(limit)?;
            let mut failure = None;
            let table = lua.create_table_from(map.iter().map(|(key, item)| {
                (
                    key.as_str(),
                    item_or_failure(lua, item, limit, &mut failure),
                )
            }))?;
            if let Some(e) = failure {
                return Err(e);
            }
            Value::Table(table)
        }
    }))
}

/// An item for a table being filled; after a failure, `nil` for the rest, the failure
/// kept for the caller.
fn item_or_failure<'v>(
    lua: &Lua,
    item: &'v Json,
    limit: usize,
    failure: &mut Option<Error>,
) -> Either<&'v str, Value> {
    if failure.is_some() {
        return Either::Right(Value::Nil);
    }
    convert(lua, item, limit).unwrap_or_else(|e| {
        *failure = Some(e);
        Either::Right(Value::Nil)
    })
}

fn descend(limit: usize) -> Result<usize> {
    limit
        .checked_sub(1)
        .ok_or_else(|| Error::SerializeError("recursion limit exceeded".into()))
}

#[cfg(test)]
mod tests {
    use mlua::LuaSerdeExt;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// How a table looks from Lua: its `pairs` order, key and value types, nested.
    const DESCRIBE: &str = r##"
        local function describe(v)
          if type(v) ~= "table" then
            return type(v) .. ":" .. tostring(v)
          end
          local out = { "{", tostring(getmetatable(v)), "#", tostring(#v) }
          for k, item in pairs(v) do
            out[#out + 1] = type(k) .. ":" .. tostring(k) .. "=" .. describe(item)
          end
          out[#out + 1] = "}"
          return table.concat(out, " ")
        end
        return describe
    "##;

    fn lua() -> (Lua, mlua::Function) {
        let lua = Lua::new();
        let describe = lua.load(DESCRIBE).eval().unwrap();
        (lua, describe)
    }

    /// What the serde serializer gave before.
    fn serde_way(lua: &Lua, value: &Json) -> Result<Value> {
        let options = mlua::serde::SerializeOptions::new().set_array_metatable(false);
        lua.to_value_with(value, options)
    }

    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            (-1e6f64..1e6).prop_map(Json::from),
            "[a-z_]{0,12}".prop_map(Json::from),
        ];
        leaf.prop_recursive(4, 64, 12, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..12).prop_map(Json::from),
                prop::collection::btree_map("[a-z_]{1,10}", inner, 0..12)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn tables_are_the_ones_serde_built(value in json()) {
            let (lua, describe) = lua();
            let ours: String = describe.call(to_lua(&lua, &value).unwrap()).unwrap();
            let theirs: String = describe.call(serde_way(&lua, &value).unwrap()).unwrap();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn null_is_ngx_null_and_depth_is_limited_as_before() {
        let (lua, describe) = lua();
        let value = json!({"a": null, "b": [null, 1.5, "x"], "c": {}, "d": []});
        let ours: String = describe.call(to_lua(&lua, &value).unwrap()).unwrap();
        assert!(ours.contains("userdata"), "{ours}");
        let theirs: String = describe.call(serde_way(&lua, &value).unwrap()).unwrap();
        assert_eq!(ours, theirs);
        let mut deep = json!(1);
        for _ in 0..RECURSION_LIMIT {
            deep = json!([deep]);
        }
        assert!(to_lua(&lua, &deep).is_ok() && serde_way(&lua, &deep).is_ok());
        let deeper = json!({ "k": deep });
        assert_eq!(
            to_lua(&lua, &deeper).unwrap_err().to_string(),
            serde_way(&lua, &deeper).unwrap_err().to_string()
        );
    }
}
