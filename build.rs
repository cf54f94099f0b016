//! Lists the bundled-plugin schemas (`src/lua/plugins/<name>.lua`) for `src/lua/plugins.rs`,
//! so adding a plugin is adding its file.
//!
//! Marks the PostgreSQL half of the test suite ignored (`cfg(skip_postgres)`) when
//! `KONNEKTD_TEST_SKIP_POSTGRES=1`, so that `cargo test` reports it as ignored rather than
//! passed: libtest decides what is ignored when the tests are compiled. Never under
//! `CI=true`, where the PostgreSQL half must run. Changing either variable rebuilds the
//! crate.

fn main() {
    list_bundled_plugin_schemas();
    println!("cargo::rustc-check-cfg=cfg(skip_postgres)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KONNEKTD_TEST_SKIP_POSTGRES");
    println!("cargo::rerun-if-env-changed=CI");
    let skip = std::env::var("KONNEKTD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if skip && !in_ci {
        println!("cargo::rustc-cfg=skip_postgres");
    }
}

fn list_bundled_plugin_schemas() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lua/plugins");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("src/lua/plugins")
        .filter_map(|entry| {
            let path = entry.expect("src/lua/plugins entry").path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".lua")?
                .to_string();
            Some((name, path.display().to_string()))
        })
        .collect();
    entries.sort();
    let mut out = String::from("&[\n");
    for (name, path) in entries {
        out.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    out.push_str("]\n");
    let target = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR"))
        .join("bundled_plugin_schemas.rs");
    std::fs::write(target, out).expect("write bundled_plugin_schemas.rs");
}
