//! One sandboxed evaluation + metaschema check + rendering of ping-auth's schema.lua,
//! against evaluating the same chunk in a bare, unsandboxed Lua state and converting
//! its result to JSON, measured in the same run. Target: at most 3x the bare cost.
//!
//! Run: `cargo bench --bench schema_eval`

use std::time::{Duration, Instant};

use konnektd::lua::load::load_plugin_schema;
use konnektd::lua::sandbox::Limits;
use mlua::{Lua, LuaSerdeExt, Value};

const ROUNDS: usize = 20;
const PER_ROUND: usize = 100;

fn bare(source: &str) -> serde_json::Value {
    let lua = Lua::new();
    let value: Value = lua.load(source).eval().expect("bare eval");
    let options = mlua::serde::de::Options::new().deny_unsupported_types(false);
    lua.from_value_with(value, options)
        .expect("bare conversion")
}

fn sandboxed(source: &str) -> serde_json::Value {
    load_plugin_schema(source, Limits::default())
        .expect("sandboxed load")
        .json
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .expect("ping-auth fixture");
    assert!(bare(&source).is_object() && sandboxed(&source).is_object());
    let (mut bare_samples, mut sandbox_samples) = (Vec::new(), Vec::new());
    // Interleaved rounds, so both sides see the same machine noise.
    for _ in 0..ROUNDS {
        for (samples, f) in [
            (&mut bare_samples, bare as fn(&str) -> serde_json::Value),
            (&mut sandbox_samples, sandboxed),
        ] {
            for _ in 0..PER_ROUND {
                let started = Instant::now();
                std::hint::black_box(f(std::hint::black_box(&source)));
                samples.push(started.elapsed());
            }
        }
    }
    let bare_median = median(bare_samples);
    let sandbox_median = median(sandbox_samples);
    let ratio = sandbox_median.as_secs_f64() / bare_median.as_secs_f64();
    println!("bare Lua state, eval + to JSON:             median {bare_median:?}");
    println!("konnektd sandbox, eval + metaschema + JSON: median {sandbox_median:?}");
    println!(
        "ratio {ratio:.2}x (target <= 3.00x): {}",
        if ratio <= 3.0 { "ok" } else { "OVER TARGET" }
    );
}
