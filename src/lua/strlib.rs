//! Budgeted `string.find`, `string.match`, `string.gmatch` and `string.gsub` with the semantics
//! of the VM we embed (LuaJIT 2.1 built with Lua 5.2 compatibility), on top of
//! [`crate::lua_pattern`].
//!
//! Each function is a small Lua wrapper around a Rust function that returns its own errors as a
//! status value; the wrapper raises them with `error`, so uploaded code sees the same plain
//! string errors, positioned at its own line, as from the built-ins (a Rust callback can only
//! raise mlua's error userdata). Errors raised by a `gsub` replacement function or `__index`
//! pass through unchanged as mlua errors, so the host still sees e.g. its own hook errors.
//!
//! Behaviour worth knowing, all LuaJIT's:
//! * the step budget covers one `find`/`match` call, one `gmatch` iteration or one whole `gsub`;
//! * `gmatch` treats a leading `^` as an ordinary byte (Lua 5.1; 5.2+ anchor it);
//! * after an empty match `gmatch` and `gsub` move on one byte, after a non-empty one they
//!   resume where it ended, so `("abc"):gsub("b*", "-")` gives `-a--c-`;
//! * an `init` beyond `#s + 1` finds nothing (the 5.2 rule LuaJIT's 5.2 mode follows);
//! * in a replacement string, `%` before a non-digit yields that byte, and a trailing `%`
//!   yields a NUL byte (C reads the string's terminator).
//!
//! Not LuaJIT's: `gsub` calls that call back into Lua nest at most [`MAX_CALLBACK_NESTING`]
//! deep, failing with `C stack overflow` beyond.

use std::cell::Cell;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mlua::{
    BorrowedBytes, Error, Function, IntoLua, Lua, LuaString, MultiValue, Result, Table, Value,
};

use crate::lua_pattern::{self as pattern, Capture, Match, Matcher, PatternError};

/// `gsub` moves its output into Lua strings in pieces of this size, so that a huge result runs
/// into the VM's memory limit instead of growing an unaccounted Rust buffer.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// How deeply `gsub` calls that call back into Lua may nest. LuaJIT sets no C-level limit, so a
/// replacement function recursing through `gsub` overflows the thread's stack and aborts the
/// process (LuaJIT's own `gsub` does, even on 8 MiB). A level costs about 3 KiB of stack in
/// release builds and 14 KiB unoptimised; real code nests two or three deep.
const MAX_CALLBACK_NESTING: u32 = 50;

const WRAPPERS: &str = r#"
local error, find, match, gmatch, gsub = ...
-- `level` counts from `check`: 2 is the Lua code calling us when `check` is tail-called.
local function check(level, ok, ...)
  if ok then return ... end
  error((...), level)
end
return
  function(...) return check(2, find(...)) end,
  function(...) return check(2, match(...)) end,
  function(...)
    local iterate = check(3, gmatch(...))
    return function() return check(2, iterate()) end
  end,
  function(...) return check(2, gsub(...)) end
"#;

/// Replaces `find`, `match`, `gmatch` and `gsub` in `string_lib` with budgeted versions, each
/// call (or `gmatch` iteration) allowed `max_steps` steps as [`pattern`] counts them. Pass the
/// table that the string metatable's `__index` refers to, so method calls (`s:find(p)`) use
/// them too.
pub fn install(lua: &Lua, string_lib: &Table, max_steps: u64) -> Result<()> {
    let error: Function = lua.globals().raw_get("error")?;
    let find = lua.create_function(move |lua, args: MultiValue| {
        report(lua, find_or_match(lua, &args, max_steps, true))
    })?;
    let match_ = lua.create_function(move |lua, args: MultiValue| {
        report(lua, find_or_match(lua, &args, max_steps, false))
    })?;
    let gmatch = lua
        .create_function(move |lua, args: MultiValue| report(lua, gmatch(lua, &args, max_steps)))?;
    let nesting = Arc::new(AtomicU32::new(0));
    let gsub = lua.create_function(move |lua, args: MultiValue| {
        report(lua, gsub(lua, &args, max_steps, &nesting))
    })?;
    let (find, match_, gmatch, gsub): (Function, Function, Function, Function) = lua
        .load(WRAPPERS)
        .set_name("=strlib")
        .set_environment(lua.create_table()?)
        .call((error, find, match_, gmatch, gsub))?;
    string_lib.set("find", find)?;
    string_lib.set("match", match_)?;
    string_lib.set("gmatch", gmatch)?;
    string_lib.set("gsub", gsub)?;
    Ok(())
}

enum Failure {
    /// Our own error, raised as a plain Lua string by the wrapper.
    Own(String),
    /// An error from the VM or from Lua code we called; propagated as is.
    Lua(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Lua(error)
    }
}

impl From<PatternError> for Failure {
    fn from(error: PatternError) -> Self {
        if error == PatternError::TooComplex {
            super::limits_hit::note(super::limits_hit::Limit::PatternSteps);
        }
        Failure::Own(error.to_string())
    }
}

type Outcome<T> = std::result::Result<T, Failure>;

/// The wrappers' protocol: `true, results...` or `false, message`.
fn report(lua: &Lua, outcome: Outcome<Vec<Value>>) -> Result<MultiValue> {
    match outcome {
        Ok(values) => Ok(std::iter::once(Value::Boolean(true))
            .chain(values)
            .collect()),
        Err(Failure::Own(message)) => Ok(MultiValue::from_vec(vec![
            Value::Boolean(false),
            message.into_lua(lua)?,
        ])),
        Err(Failure::Lua(error)) => Err(error),
    }
}

/// Argument checks with LuaJIT's messages.
struct Args<'a> {
    lua: &'a Lua,
    values: &'a MultiValue,
    name: &'static str,
}

impl Args<'_> {
    fn bad(&self, index: usize, message: impl Display) -> Failure {
        Failure::Own(format!(
            "bad argument #{} to '{}' ({message})",
            index + 1,
            self.name
        ))
    }

    /// A string, or a number converted the way Lua does.
    fn string(&self, index: usize) -> Outcome<LuaString> {
        let value = self.values.get(index);
        let expected = || self.bad(index, format!("string expected, got {}", type_name(value)));
        match value {
            Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
                self.lua.coerce_string(v.clone())?.ok_or_else(expected)
            }
            _ => Err(expected()),
        }
    }

    /// An optional integer: a number (truncated) or a numeric string; `default` if nil or absent.
    fn opt_int(&self, index: usize, default: i64) -> Outcome<i64> {
        let number = match self.values.get(index) {
            None | Some(Value::Nil) => return Ok(default),
            Some(Value::Integer(n)) => return Ok(*n),
            Some(Value::Number(n)) => Some(*n),
            Some(v @ Value::String(_)) => self.lua.coerce_number(v.clone())?,
            Some(_) => None,
        };
        // `as` truncates toward zero and saturates; LuaJIT's int32 conversion of out-of-range
        // numbers is unspecified C, so saturating is as good a choice as any.
        number.map(|n| n as i64).ok_or_else(|| {
            let got = type_name(self.values.get(index));
            self.bad(index, format!("number expected, got {got}"))
        })
    }
}

/// LuaJIT's name for the type of an argument.
fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "no value",
        Some(Value::Integer(_)) => "number",
        Some(Value::LightUserData(_) | Value::Error(_)) => "userdata",
        Some(Value::Other(_)) => "cdata",
        Some(v) => v.type_name(),
    }
}

fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Nil | Value::Boolean(false))
}

fn integer(n: usize) -> Value {
    Value::Integer(n as i64)
}

fn capture_value(lua: &Lua, subject: &[u8], capture: Capture) -> Outcome<Value> {
    match capture {
        Capture::Range(start, end) => Ok(Value::String(lua.create_string(&subject[start..end])?)),
        Capture::Position(at) => Ok(integer(at + 1)),
        Capture::Unfinished => Err(PatternError::UnfinishedCapture.into()),
    }
}

fn capture_values(lua: &Lua, subject: &[u8], captures: &[Capture]) -> Outcome<Vec<Value>> {
    captures
        .iter()
        .map(|&capture| capture_value(lua, subject, capture))
        .collect()
}

/// `string.find(s, p [, init [, plain]])` and `string.match(s, p [, init])`.
fn find_or_match(
    lua: &Lua,
    values: &MultiValue,
    max_steps: u64,
    find: bool,
) -> Outcome<Vec<Value>> {
    let args = Args {
        lua,
        values,
        name: if find { "find" } else { "match" },
    };
    let subject = args.string(0)?;
    let pattern = args.string(1)?;
    let init = args.opt_int(2, 1)?;
    let (subject, pattern) = (subject.as_bytes(), pattern.as_bytes());

    let len = subject.len() as i64;
    let start = if init < 0 { init + len } else { init - 1 }.max(0);
    if start > len {
        return Ok(vec![Value::Nil]);
    }
    let start = start as usize;

    if find && (values.get(3).is_some_and(truthy) || !pattern::has_specials(&pattern)) {
        return Ok(match pattern::find_plain(&subject, &pattern, start) {
            Some(at) => vec![integer(at + 1), integer(at + pattern.len())],
            None => vec![Value::Nil],
        });
    }
    let Some(found) = pattern::find_at(&subject, &pattern, start, max_steps)? else {
        return Ok(vec![Value::Nil]);
    };
    if find {
        let mut results = vec![integer(found.start + 1), integer(found.end)];
        results.extend(capture_values(lua, &subject, &found.values(false)?)?);
        Ok(results)
    } else {
        capture_values(lua, &subject, &found.values(true)?)
    }
}

/// `string.gmatch(s, p)`: returns the iterator.
fn gmatch(lua: &Lua, values: &MultiValue, max_steps: u64) -> Outcome<Vec<Value>> {
    let args = Args {
        lua,
        values,
        name: "gmatch",
    };
    let subject = args.string(0)?;
    let pattern = args.string(1)?;
    let next = Cell::new(0usize);
    let iterator = lua.create_function(move |lua, _: MultiValue| {
        report(lua, gmatch_step(lua, &subject, &pattern, &next, max_steps))
    })?;
    Ok(vec![Value::Function(iterator)])
}

fn gmatch_step(
    lua: &Lua,
    subject: &LuaString,
    pattern: &LuaString,
    next: &Cell<usize>,
    max_steps: u64,
) -> Outcome<Vec<Value>> {
    let (subject, pattern) = (subject.as_bytes(), pattern.as_bytes());
    let mut matcher = Matcher::new(&subject, &pattern, max_steps);
    let Some(found) = matcher.search(next.get(), false)? else {
        return Ok(Vec::new());
    };
    next.set(if found.end == found.start {
        found.end + 1
    } else {
        found.end
    });
    capture_values(lua, &subject, &found.values(true)?)
}

enum Replacement {
    Template(BorrowedBytes),
    Table(Table),
    Function(Function),
}

/// `string.gsub(s, p, repl [, n])`.
fn gsub(
    lua: &Lua,
    values: &MultiValue,
    max_steps: u64,
    nesting: &AtomicU32,
) -> Outcome<Vec<Value>> {
    let args = Args {
        lua,
        values,
        name: "gsub",
    };
    let subject = args.string(0)?;
    let pattern = args.string(1)?;
    let (subject, pattern) = (subject.as_bytes(), pattern.as_bytes());
    let max_count = args.opt_int(3, subject.len() as i64 + 1)?;
    let replacement = match values.get(2) {
        Some(Value::Table(table)) => Replacement::Table(table.clone()),
        Some(Value::Function(function)) => Replacement::Function(function.clone()),
        Some(Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
            Replacement::Template(args.string(2)?.as_bytes())
        }
        _ => return Err(args.bad(2, "string/function/table expected")),
    };
    let _nested = match replacement {
        Replacement::Template(_) => None,
        Replacement::Table(_) | Replacement::Function(_) => Some(Nested::enter(nesting)?),
    };

    let (anchored, pattern) = pattern::split_anchor(&pattern);
    let mut matcher = Matcher::new(&subject, pattern, max_steps);
    let mut output = Output::new(lua);
    let mut pos = 0;
    let mut count = 0i64;
    while count < max_count {
        let found = matcher.match_at(pos)?;
        let end = found.as_ref().map(|found| found.end);
        if let Some(found) = found {
            count += 1;
            replace(lua, &mut output, &subject, &found, &replacement)?;
        }
        match end {
            Some(end) if end > pos => pos = end,
            _ if pos < subject.len() => {
                output.push(&subject[pos..=pos])?;
                pos += 1;
            }
            _ => break,
        }
        if anchored {
            break;
        }
    }
    output.push(&subject[pos..])?;
    Ok(vec![Value::String(output.finish()?), Value::Integer(count)])
}

/// One level of [`MAX_CALLBACK_NESTING`], released on drop.
struct Nested<'a>(&'a AtomicU32);

impl<'a> Nested<'a> {
    fn enter(nesting: &'a AtomicU32) -> Outcome<Self> {
        if nesting.fetch_add(1, Ordering::Relaxed) >= MAX_CALLBACK_NESTING {
            nesting.fetch_sub(1, Ordering::Relaxed);
            return Err(Failure::Own("C stack overflow".into()));
        }
        Ok(Nested(nesting))
    }
}

impl Drop for Nested<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Appends the replacement for one match.
fn replace(
    lua: &Lua,
    output: &mut Output,
    subject: &[u8],
    found: &Match,
    replacement: &Replacement,
) -> Outcome<()> {
    let value = match replacement {
        Replacement::Template(template) => {
            return expand_template(output, subject, found, template);
        }
        Replacement::Table(table) => {
            table.get::<Value>(capture_value(lua, subject, found.get(0)?)?)?
        }
        Replacement::Function(function) => {
            let args = capture_values(lua, subject, &found.values(true)?)?;
            function.call::<Value>(MultiValue::from_vec(args))?
        }
    };
    match value {
        Value::Nil | Value::Boolean(false) => output.push(&subject[found.start..found.end])?,
        Value::String(s) => output.push(&s.as_bytes())?,
        number @ (Value::Integer(_) | Value::Number(_)) => {
            if let Some(s) = lua.coerce_string(number)? {
                output.push(&s.as_bytes())?;
            }
        }
        other => {
            let got = type_name(Some(&other));
            return Err(Failure::Own(format!("invalid replacement value (a {got})")));
        }
    }
    Ok(())
}

/// A replacement string: `%0` is the whole match, `%1`-`%9` a capture, `%` before anything
/// else that byte.
fn expand_template(
    output: &mut Output,
    subject: &[u8],
    found: &Match,
    template: &[u8],
) -> Outcome<()> {
    let mut rest = template;
    while let Some(at) = rest.iter().position(|&c| c == b'%') {
        output.push(&rest[..at])?;
        let escaped = rest.get(at + 1).copied().unwrap_or(0);
        match escaped {
            b'0' => output.push(&subject[found.start..found.end])?,
            b'1'..=b'9' => match found.get(usize::from(escaped - b'1'))? {
                Capture::Range(start, end) => output.push(&subject[start..end])?,
                Capture::Position(at) => output.push((at + 1).to_string().as_bytes())?,
                Capture::Unfinished => return Err(PatternError::UnfinishedCapture.into()),
            },
            other => output.push(&[other])?,
        }
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    output.push(rest)?;
    Ok(())
}

/// `gsub`'s result, moved into Lua strings as it grows (see [`OUTPUT_CHUNK`]).
struct Output<'l> {
    lua: &'l Lua,
    buffer: Vec<u8>,
    chunks: Vec<LuaString>,
    flushed: usize,
}

impl<'l> Output<'l> {
    fn new(lua: &'l Lua) -> Self {
        Output {
            lua,
            buffer: Vec::new(),
            chunks: Vec::new(),
            flushed: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= OUTPUT_CHUNK {
            self.chunks.push(self.lua.create_string(&self.buffer)?);
            self.flushed += self.buffer.len();
            self.buffer.clear();
        }
        Ok(())
    }

    fn finish(self) -> Result<LuaString> {
        if self.chunks.is_empty() {
            return self.lua.create_string(&self.buffer);
        }
        let mut all = Vec::with_capacity(self.flushed + self.buffer.len());
        for chunk in &self.chunks {
            all.extend_from_slice(&chunk.as_bytes());
        }
        all.extend_from_slice(&self.buffer);
        self.lua.create_string(&all)
    }
}

#[cfg(test)]
mod tests;
