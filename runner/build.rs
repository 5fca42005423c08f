//! Builds the bundled plugins (`plugins/`, their own workspace) for wasm32-wasip2 and puts the
//! components in `$OUT_DIR/plugins/`, where `src/bundled.rs` embeds them into the `c2k` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (file name of the built component, name users refer to it by)
const PLUGINS: &[(&str, &str)] = &[
    ("time_field.wasm", "time-field"),
    ("avro_binary.wasm", "avro-binary"),
    ("json.wasm", "json"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("runner/ sits in the workspace");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let dest = out_dir.join("plugins");
    std::fs::create_dir_all(&dest).expect("create OUT_DIR/plugins");

    // Everything the plugins compile from: their own sources, the SDK, the Avro core under it.
    for watched in [
        "plugins",
        "avro-core/src",
        "avro-core/Cargo.toml",
        "plugin-sdk/src",
        "plugin-sdk/wit",
        "plugin-sdk/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let plugins_manifest = root.join("plugins/Cargo.toml");

    // A target dir of their own, kept across builds of the host (under target/, not OUT_DIR).
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&plugins_manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings are for the host, not for the wasm guest.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("run cargo to build the bundled plugins");
    if !status.success() {
        panic!(
            "building the bundled plugins failed (is the target installed? `rustup target add wasm32-wasip2`)"
        );
    }
    let built = target_dir.join("wasm32-wasip2/release");
    for (file, name) in PLUGINS {
        copy(&built.join(file), &dest.join(format!("{name}.wasm")));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}
