//! Marks the PostgreSQL half of the test suite ignored (`cfg(skip_postgres)`) when
//! `KONNEKTD_TEST_SKIP_POSTGRES=1`, so that `cargo test` reports it as ignored rather than
//! passed: libtest decides what is ignored when the tests are compiled. Never under
//! `CI=true`, where the PostgreSQL half must run. Changing either variable rebuilds the
//! crate.

fn main() {
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
