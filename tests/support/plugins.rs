//! Helpers for the plugin tests: plugin configs, Avro datums, batches, and building WebAssembly
//! components from crates (test fixtures, the SDK's example) with cargo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use camus2kafka::testing::PluginBatch;
use camus2kafka::testing::{ByteSize, PluginConfig, Seconds};

use super::process::run_with_timeout;
use super::repo;

/// A plugin config as the pipeline would give it, with generous limits unless changed.
pub fn config(plugin: &str, config: serde_json::Value) -> PluginConfig {
    PluginConfig {
        plugin: plugin.to_string(),
        config,
        max_memory: ByteSize(256 << 20),
        call_timeout: Seconds(30.0),
        batch_size: 1000,
        instances: 1,
    }
}

/// Owned records laid out as a plugin batch.
#[derive(Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    pub schema_ids: Vec<u32>,
}

impl Batch {
    pub fn push(&mut self, schema_id: u32, datum: &[u8]) -> &mut Self {
        self.data.extend_from_slice(datum);
        self.ends.push(self.data.len() as u32);
        self.schema_ids.push(schema_id);
        self
    }

    pub fn as_plugin_batch(&self) -> PluginBatch<'_> {
        PluginBatch {
            data: &self.data,
            ends: &self.ends,
            schema_ids: &self.schema_ids,
        }
    }
}

/// Splits flat keys into one byte string per record.
pub fn split_keys(data: &[u8], ends: &[u32]) -> Vec<Vec<u8>> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let key = data[start..end as usize].to_vec();
            start = end as usize;
            key
        })
        .collect()
}

/// Serialises builds of wasm crates: they share target directories.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds the wasm32-wasip2 `cdylib` of the cargo project at `dir` (release) and returns the
/// path of `<lib>.wasm`. The target dir is the bundled plugins' one, so that only the first run
/// compiles the shared dependencies.
pub fn build_wasm(dir: &Path, lib: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        // The bundled plugins' target dir (runner/build.rs): same profile, so shared dependencies.
        .join("wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cargo = Command::new(cargo);
    cargo
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    // Minutes on a cold cache (the SDK and wit-bindgen, for wasm32): bounded all the same.
    let output = run_with_timeout(&mut cargo, Duration::from_secs(1200));
    assert!(
        output.status.success(),
        "building {} for wasm32-wasip2 failed (is the target installed? `rustup target add \
         wasm32-wasip2`):\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let wasm = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{lib}.wasm"));
    assert!(wasm.is_file(), "cargo built no {}", wasm.display());
    wasm
}

/// The test-only misbehaving key extractor (`tests/fixtures/plugins/misbehave`).
pub fn misbehave_wasm() -> PathBuf {
    build_wasm(&repo().join("tests/fixtures/plugins"), "misbehave")
}

/// A key extractor built against a contract version no c2k loads, `camus2kafka:plugin@9.0.0`
/// (`tests/fixtures/plugins/future-contract`).
pub fn future_contract_wasm() -> PathBuf {
    build_wasm(&repo().join("tests/fixtures/plugins"), "future_contract")
}

/// An output format built against the older contract `camus2kafka:plugin@0.1.0`, which has no
/// `format-flat` (`tests/fixtures/plugins/contract-0-1-0`).
pub fn contract_0_1_0_wasm() -> PathBuf {
    build_wasm(&repo().join("tests/fixtures/plugins"), "contract_0_1_0")
}
