//! Key extractors compiled into the host (`key.plugin: native:<name>`), a benchmark reference
//! (bench/README.md): the SDK's own [`extractors`](c2k_plugin_sdk::extractors) run in-process through
//! the same [`KeyRuntime`] batch loop the WebAssembly components run, so a comparison measures
//! the sandbox and nothing else. They are trusted code: no memory cap, no time limit.

use c2k_plugin_sdk::extractors::TimeField;
use c2k_plugin_sdk::runtime::{BatchRef, KeyRuntime};

use super::{Keys, PluginBatch, PluginError};

/// What a `*.plugin` value starts with to name a native plugin.
pub(crate) const PREFIX: &str = "native:";

/// The names after [`PREFIX`] that [`NativeKeyExtractor::load`] knows (key extractors only).
pub(crate) const NAMES: &[&str] = &["time-field"];

/// `native:<name>` → `Some(name)`.
pub(crate) fn native_name(plugin: &str) -> Option<&str> {
    plugin.strip_prefix(PREFIX)
}

/// The extractors there are, one variant each.
enum Runtime {
    TimeField(KeyRuntime<TimeField>),
}

/// A native key extractor, configured.
pub(crate) struct NativeKeyExtractor {
    /// The name as the pipeline gave it (`native:time-field`), for errors.
    plugin: String,
    runtime: Runtime,
}

impl NativeKeyExtractor {
    /// Builds the extractor `name` (without the prefix) from its JSON configuration.
    pub(crate) fn load(plugin: &str, name: &str, config: &str) -> Result<Self, PluginError> {
        let error = |message: String| PluginError {
            plugin: plugin.to_string(),
            index: None,
            message,
        };
        let runtime = match name {
            "time-field" => Runtime::TimeField(
                KeyRuntime::configure(config)
                    .map_err(|e| error(format!("rejected its config {config}: {e}")))?,
            ),
            _ => {
                return Err(error(format!(
                    "no native key extractor `{name}` (there are: {})",
                    NAMES.join(", ")
                )))
            }
        };
        Ok(NativeKeyExtractor {
            plugin: plugin.to_string(),
            runtime,
        })
    }

    fn error(&self, index: Option<u32>, message: String) -> PluginError {
        PluginError {
            plugin: self.plugin.clone(),
            index,
            message,
        }
    }

    pub(crate) fn register_schema(&mut self, id: u32, json: &str) -> Result<(), PluginError> {
        let result = match &mut self.runtime {
            Runtime::TimeField(runtime) => runtime.register_schema(id, json),
        };
        result.map_err(|e| self.error(None, format!("rejected schema {id}: {e}")))
    }

    pub(crate) fn key_floor(&self, time_ms: i64) -> Option<Vec<u8>> {
        match &self.runtime {
            Runtime::TimeField(runtime) => runtime.key_floor(time_ms),
        }
    }

    pub(crate) fn extract_keys(&self, batch: &PluginBatch) -> Result<Keys, PluginError> {
        let batch = BatchRef {
            data: batch.data,
            ends: batch.ends,
            schema_ids: batch.schema_ids,
        };
        let result = match &self.runtime {
            Runtime::TimeField(runtime) => runtime.extract_keys(batch),
        };
        let keys = result.map_err(|e| self.error(Some(e.index), e.message))?;
        Ok(Keys {
            data: keys.data,
            ends: keys.ends,
            timestamps_ms: keys.timestamps_ms,
        })
    }
}
