//! The one wasmtime `Engine` of the process, shared by every plugin: Cranelift, epoch
//! interruption driven by a ticker thread (the per-call time limit), and wasmtime's on-disk
//! cache of compiled code so that repeated runs don't recompile the same components.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use wasmtime::{Cache, CacheConfig, Config, Engine};

/// How often the epoch advances: the granularity of `call_timeout`.
pub(super) const TICK: Duration = Duration::from_millis(10);

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The shared engine, created (with its ticker thread) on first use.
pub(super) fn engine() -> Result<Engine> {
    ENGINE
        .get_or_init(|| create().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("cannot set up the WebAssembly engine: {e}"))
}

fn create() -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // `C2K_WASM_PROFILE=perfmap` names the plugins' compiled functions for `perf` (bench/README.md);
    // the cache is skipped then, since a cached module is loaded without telling the profiler.
    let profiling = std::env::var("C2K_WASM_PROFILE").is_ok_and(|v| v == "perfmap");
    if profiling {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    match compile_cache() {
        Ok(cache) if !profiling => {
            config.cache(Some(cache));
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("compiling plugins without a cache: {e:#}"),
    }
    let engine =
        Engine::new(&config).map_err(|e| anyhow!("creating the wasmtime engine: {e:#}"))?;
    let ticking = engine.clone();
    std::thread::Builder::new()
        .name("c2k-plugin-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            ticking.increment_epoch();
        })
        .context("starting the plugin timer thread")?;
    Ok(engine)
}

/// Where compiled components are kept: `$C2K_CACHE_DIR`, else `$XDG_CACHE_HOME/camus2kafka`,
/// else `~/.cache/camus2kafka`, each with a `wasmtime/` folder (wasmtime keys entries by a hash
/// of the component bytes, the compiler settings and its own version).
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("C2K_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(|d| PathBuf::from(d).join("camus2kafka"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/camus2kafka"))
        })?;
    Some(base.join("wasmtime"))
}

fn compile_cache() -> Result<Cache> {
    let dir = cache_dir().context("no cache directory: neither XDG_CACHE_HOME nor HOME is set")?;
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()?.join(dir)
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the plugin cache {}", dir.display()))?;
    let mut cache = CacheConfig::new();
    cache.with_directory(&dir);
    Cache::new(cache).map_err(|e| anyhow!("opening the plugin cache {}: {e:#}", dir.display()))
}
