//! The store a plugin runs in, granting it nothing: WASI p2 is linked (components built by
//! Rust's std import it) but with no preopened directories, no environment, no arguments, no
//! network, no stdin or stdout; clocks are frozen and randomness is a fixed sequence so that runs
//! are deterministic. Memory is capped by a limiter that remembers when it said no, and stderr is
//! captured so that a panic's message (and the record it names) reaches the error.

use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// The most a plugin's stderr keeps (enough for any panic message).
const STDERR_CAPACITY: usize = 1 << 20;

/// The state of one plugin's store.
pub(super) struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
    pub limits: MemoryCap,
    pub stderr: MemoryOutputPipe,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory at `max_bytes`, recording the first refused growth.
pub(super) struct MemoryCap {
    pub max_bytes: usize,
    pub refused: Option<usize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused.get_or_insert(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// A wall clock stopped at the Unix epoch.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that never advances.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The same "random" bytes for every run.
fn fixed_random_bytes() -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0u8; 4096];
    rand_chacha::ChaCha8Rng::seed_from_u64(0xC2C2_C2C2).fill_bytes(&mut bytes);
    bytes
}

/// A store for one plugin with nothing granted and memory capped at `max_memory` bytes.
pub(super) fn store(engine: &Engine, max_memory: usize) -> Store<Host> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
    let random = fixed_random_bytes();
    let ctx = WasiCtx::builder()
        .stderr(stderr.clone())
        .wall_clock(FrozenWallClock)
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(wasmtime_wasi::Deterministic::new(random.clone()))
        .insecure_random(wasmtime_wasi::Deterministic::new(random))
        .insecure_random_seed(0xC2C2_C2C2)
        .allow_blocking_current_thread(true)
        .build();
    let mut store = Store::new(
        engine,
        Host {
            ctx,
            table: ResourceTable::new(),
            limits: MemoryCap {
                max_bytes: max_memory,
                refused: None,
            },
            stderr,
        },
    );
    store.limiter(|host| &mut host.limits);
    store.epoch_deadline_trap();
    store
}

/// A linker providing WASI p2 (all of it denied by the empty context above).
pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // The contract's type-only interface, in case a component imports it: nothing to provide.
    for version in super::contract::LOADS {
        linker.instance(&format!("camus2kafka:plugin/types@{version}"))?;
    }
    Ok(linker)
}
