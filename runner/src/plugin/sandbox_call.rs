//! Loading a component and calling into it under the time limit, turning every way a call can
//! fail (trap, timeout, out of memory) into a [`PluginError`] that names the plugin and, when the
//! SDK's panic hook told us, the record.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use wasmtime::component::Component;
use wasmtime::{Store, Trap};

use super::engine::{engine, TICK};
use super::sandbox::{self, Host};
use super::PluginError;
use crate::config::PluginConfig;

/// Components compiled in this process, with the bytes they were compiled from: the instances of
/// one format plugin (one per core) share one compiled component instead of each reading it back
/// from the on-disk cache (hashing, decompressing and mapping ~1 MB of code each time).
static COMPILED: Mutex<Vec<(Cow<'static, [u8]>, Component)>> = Mutex::new(Vec::new());

/// `bytes` compiled (or read from wasmtime's cache) once per process.
fn compiled(engine: &wasmtime::Engine, name: &str, bytes: Cow<'static, [u8]>) -> Result<Component> {
    let seen = |compiled: &[(Cow<'static, [u8]>, Component)]| {
        compiled
            .iter()
            .find(|(seen, _)| **seen == *bytes)
            .map(|(_, component)| component.clone())
    };
    if let Some(component) = seen(&COMPILED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(component);
    }
    let component = Component::new(engine, &bytes).map_err(|e| {
        anyhow!(
            "plugin {name} is not a valid WebAssembly component (build it for \
             wasm32-wasip2): {e:#}"
        )
    })?;
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if seen(&compiled).is_none() {
        compiled.push((bytes, component.clone()));
    }
    Ok(component)
}

/// A plugin component in its own store, ready to be instantiated.
pub(super) struct Loaded {
    pub name: String,
    pub store: Store<Host>,
    pub component: Component,
    pub linker: wasmtime::component::Linker<Host>,
    timeout: Duration,
    /// Set after a call failed: the instance may be in any state and is not called again.
    failed: Option<String>,
}

impl Loaded {
    /// Reads (bundled or from a `.wasm` path) and compiles the plugin's component.
    pub(super) fn load(config: &PluginConfig) -> Result<Loaded> {
        let name = config.plugin.clone();
        let bytes: Cow<'static, [u8]> = match crate::bundled::bundled(&name) {
            Some(bytes) => Cow::Borrowed(bytes),
            None => {
                let path = crate::storage::local::local_path(&name);
                Cow::Owned(
                    std::fs::read(&path)
                        .with_context(|| format!("reading plugin component {}", path.display()))?,
                )
            }
        };
        let engine = engine()?;
        let component = compiled(&engine, &name, bytes)?;
        let max_memory = usize::try_from(config.max_memory.0).unwrap_or(usize::MAX);
        let mut loaded = Loaded {
            store: sandbox::store(&engine, max_memory),
            linker: sandbox::linker(&engine)
                .map_err(|e| anyhow!("linking WASI for plugin {name}: {e:#}"))?,
            component,
            timeout: config.call_timeout.duration(),
            failed: None,
            name,
        };
        // Instantiation runs guest code too (start functions): it gets the same time limit.
        loaded.arm_deadline();
        Ok(loaded)
    }

    /// Lets the next guest call run for `call_timeout`.
    fn arm_deadline(&mut self) {
        let ticks = (self.timeout.as_nanos() / TICK.as_nanos()).max(1) as u64 + 1;
        self.store.set_epoch_deadline(ticks);
    }

    /// A whole-call error naming this plugin.
    pub(super) fn error(&self, index: Option<u32>, message: impl Into<String>) -> PluginError {
        PluginError {
            plugin: self.name.clone(),
            index,
            message: message.into(),
        }
    }

    /// Runs one call into the guest under the time limit.
    pub(super) fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Store<Host>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if let Some(failed) = &self.failed {
            return Err(self.error(None, format!("not called again after it failed: {failed}")));
        }
        self.arm_deadline();
        match f(&mut self.store) {
            Ok(r) => Ok(r),
            Err(e) => {
                let error = self.describe(what, &e);
                self.failed = Some(error.message.clone());
                Err(error)
            }
        }
    }

    fn describe(&mut self, what: &str, error: &wasmtime::Error) -> PluginError {
        let stderr = self.store.data().stderr.contents();
        let stderr = String::from_utf8_lossy(&stderr);
        let (index, panic) = last_panic(&stderr);
        let trap = error.downcast_ref::<Trap>().copied();
        let message = if trap == Some(Trap::Interrupt) {
            format!(
                "{what} timed out: it ran longer than call_timeout ({:?})",
                self.timeout
            )
        } else if let Some(desired) = self.store.data().limits.refused {
            format!(
                "{what} ran out of memory: it needed more than max_memory ({} bytes; it asked \
                 for {desired})",
                self.store.data().limits.max_bytes
            )
        } else if let Some(panic) = panic {
            format!("{what} panicked: {panic}")
        } else {
            format!("{what} crashed: {error:#}")
        };
        self.error(index, message)
    }
}

/// The last panic message the SDK's hook wrote to stderr, and the record index it names.
fn last_panic(stderr: &str) -> (Option<u32>, Option<String>) {
    const MARK: &str = "[c2k-record-index=";
    let Some(at) = stderr.rfind(MARK) else {
        let tail = stderr.trim();
        let tail = tail.rfind("panicked at").map(|i| &tail[i..]);
        return (None, tail.map(str::to_string));
    };
    let rest = &stderr[at + MARK.len()..];
    let Some(close) = rest.find(']') else {
        return (None, None);
    };
    let index = rest[..close].parse().ok();
    (index, Some(rest[close + 1..].trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::last_panic;

    #[test]
    fn reads_the_record_index_of_the_last_panic() {
        let stderr = "noise\n[c2k-record-index=3] panicked at src/lib.rs:1:1:\nboom\n";
        assert_eq!(
            last_panic(stderr),
            (
                Some(3),
                Some("panicked at src/lib.rs:1:1:\nboom".to_string())
            )
        );
        assert_eq!(last_panic(""), (None, None));
    }
}
