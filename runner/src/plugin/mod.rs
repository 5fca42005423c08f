//! The WebAssembly plugin host on wasmtime's component model (issue 2): loads key-extractor and
//! output-format components, grants them nothing, caps their memory and time.
//!
//! One engine serves every plugin of the process ([`engine`]); each plugin gets its own store
//! ([`sandbox`]), is instantiated once and configured once, learns each schema once, then is
//! called with batches. A failed call poisons the plugin: it is never called again.

mod bindings;
mod engine;
pub mod native;
mod sandbox;
mod sandbox_call;

use anyhow::Result;
use wasmtime::component::{ComponentType, Func, Lower};

use crate::pipeline::PluginConfig;
use crate::record::OutMessage;
use bindings::format::camus2kafka::plugin::types as format_types;
use bindings::format::OutputFormatPlugin;
use bindings::key::camus2kafka::plugin::types as key_types;
use bindings::key::exports::camus2kafka::plugin::key_extractor as key_interface;
use bindings::key::KeyExtractorPlugin;
use native::NativeKeyExtractor;
use sandbox_call::Loaded;

/// A batch as it is handed to a plugin: record `i` is `data[ends[i-1]..ends[i]]` in schema
/// `schema_ids[i]`.
pub struct PluginBatch<'a> {
    pub data: &'a [u8],
    pub ends: &'a [u32],
    pub schema_ids: &'a [u32],
}

/// The keys a key extractor computed for one batch.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    /// Empty, or one event time (ms since the epoch) per record.
    pub timestamps_ms: Vec<Option<i64>>,
}

/// A plugin call that failed on one record (index in the batch) or on the whole batch.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {message}")]
pub struct PluginError {
    pub plugin: String,
    /// The record's index in the batch, when the failure is tied to one.
    pub index: Option<u32>,
    pub message: String,
}

/// Copies a host batch into the reusable owned batch the bindings lower into the guest.
macro_rules! fill_batch {
    ($target:expr, $batch:expr) => {{
        let target = &mut $target;
        target.data.clear();
        target.data.extend_from_slice($batch.data);
        target.ends.clear();
        target.ends.extend_from_slice($batch.ends);
        target.schema_ids.clear();
        target.schema_ids.extend_from_slice($batch.schema_ids);
    }};
}

/// A key-extractor plugin, instantiated and configured: a WebAssembly component, or one of the
/// [`native`] extractors compiled into the host.
pub struct KeyExtractor(KeyBackend);

enum KeyBackend {
    Wasm(Box<WasmKeyExtractor>),
    Native(NativeKeyExtractor),
}

impl KeyExtractor {
    /// Loads the plugin (`config.plugin`: a bundled name, a `.wasm` path, or `native:<name>`)
    /// and configures it.
    pub fn load(config: &PluginConfig) -> Result<Self> {
        let backend = match native::native_name(&config.plugin) {
            Some(name) => KeyBackend::Native(NativeKeyExtractor::load(
                &config.plugin,
                name,
                &config.config.to_string(),
            )?),
            None => KeyBackend::Wasm(Box::new(WasmKeyExtractor::load(config)?)),
        };
        Ok(KeyExtractor(backend))
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        match &mut self.0 {
            KeyBackend::Wasm(wasm) => wasm.register_schema(id, json),
            KeyBackend::Native(native) => Ok(native.register_schema(id, json)?),
        }
    }

    /// One key per record of the batch.
    pub fn extract_keys(&mut self, batch: &PluginBatch) -> Result<Keys, PluginError> {
        match &mut self.0 {
            KeyBackend::Wasm(wasm) => wasm.extract_keys(batch),
            KeyBackend::Native(native) => native.extract_keys(batch),
        }
    }
}

/// A key-extractor component in its sandbox.
struct WasmKeyExtractor {
    loaded: Loaded,
    plugin: KeyExtractorPlugin,
    /// `extract-keys`, called with a [`BorrowedBatch`] rather than through the bindings.
    extract_keys: Func,
}

/// The WIT `batch` record lowered straight from the host's slices into the guest. The generated
/// bindings take an owned `Batch`, which costs one more copy of every batch (measured: about a
/// fifth of the time of a `time-field` call on 270-byte records).
#[derive(ComponentType, Lower)]
#[component(record)]
struct BorrowedBatch<'a> {
    #[component(name = "data")]
    data: &'a [u8],
    #[component(name = "ends")]
    ends: &'a [u32],
    #[component(name = "schema-ids")]
    schema_ids: &'a [u32],
}

/// What `extract-keys` returns.
type ExtractKeysResult = (Result<key_interface::Keys, key_types::RecordError>,);

/// The WIT interface a key extractor exports (see `plugin-sdk/wit/camus2kafka.wit`).
const KEY_EXTRACTOR_INTERFACE: &str = "camus2kafka:plugin/key-extractor@0.1.0";

impl WasmKeyExtractor {
    /// Loads the plugin (`config.plugin`: a bundled name or a `.wasm` path) and configures it.
    fn load(config: &PluginConfig) -> Result<Self> {
        let mut loaded = Loaded::load(config)?;
        let not_a_key_extractor =
            |e: String| format!("cannot be instantiated as a key-extractor: {e}");
        let instance = loaded
            .linker
            .instantiate(&mut loaded.store, &loaded.component)
            .map_err(|e| loaded.error(None, not_a_key_extractor(format!("{e:#}"))))?;
        let plugin = KeyExtractorPlugin::new(&mut loaded.store, &instance)
            .map_err(|e| loaded.error(None, not_a_key_extractor(format!("{e:#}"))))?;
        let extract_keys = instance
            .get_export_index(&mut loaded.store, None, KEY_EXTRACTOR_INTERFACE)
            .and_then(|interface| {
                instance.get_export_index(&mut loaded.store, Some(&interface), "extract-keys")
            })
            .and_then(|index| instance.get_func(&mut loaded.store, index))
            .ok_or_else(|| {
                loaded.error(
                    None,
                    not_a_key_extractor(format!(
                        "no {KEY_EXTRACTOR_INTERFACE}#extract-keys export"
                    )),
                )
            })?;
        let json = config.config.to_string();
        let configured = loaded.call("configure", |store| {
            plugin
                .camus2kafka_plugin_key_extractor()
                .call_configure(store, &json)
        })?;
        configured.map_err(|e| loaded.error(None, format!("rejected its config {json}: {e}")))?;
        Ok(WasmKeyExtractor {
            loaded,
            plugin,
            extract_keys,
        })
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        let schema = key_types::Schema {
            id,
            json: json.to_string(),
        };
        let plugin = &self.plugin;
        let result = self.loaded.call("register-schema", |store| {
            plugin
                .camus2kafka_plugin_key_extractor()
                .call_register_schema(store, &schema)
        })?;
        result.map_err(|e| {
            self.loaded
                .error(None, format!("rejected schema {id}: {e}"))
                .into()
        })
    }

    /// One key per record of the batch.
    fn extract_keys(&mut self, batch: &PluginBatch) -> Result<Keys, PluginError> {
        let request = BorrowedBatch {
            data: batch.data,
            ends: batch.ends,
            schema_ids: batch.schema_ids,
        };
        let func = self.extract_keys;
        let (result,) = self.loaded.call("extract-keys", |store| {
            // The type check is a comparison of two interned types: cheap next to a batch.
            func.typed::<(BorrowedBatch<'_>,), ExtractKeysResult>(&*store)?
                .call(store, (request,))
        })?;
        let keys = result.map_err(|e| self.loaded.error(Some(e.index), e.message))?;
        Ok(Keys {
            data: keys.data,
            ends: keys.ends,
            timestamps_ms: keys.timestamps_ms,
        })
    }
}

/// An output-format plugin, instantiated and configured.
pub struct OutputFormat {
    loaded: Loaded,
    plugin: OutputFormatPlugin,
    batch: format_types::Batch,
}

impl OutputFormat {
    /// Loads the plugin (`config.plugin`: a bundled name or a `.wasm` path) and configures it.
    pub fn load(config: &PluginConfig) -> Result<Self> {
        if native::native_name(&config.plugin).is_some() {
            anyhow::bail!(
                "format.plugin {}: `{}` plugins are key extractors (key.plugin) only",
                config.plugin,
                native::PREFIX
            );
        }
        let mut loaded = Loaded::load(config)?;
        let plugin =
            OutputFormatPlugin::instantiate(&mut loaded.store, &loaded.component, &loaded.linker)
                .map_err(|e| {
                loaded.error(
                    None,
                    format!("cannot be instantiated as an output-format: {e:#}"),
                )
            })?;
        let json = config.config.to_string();
        let configured = loaded.call("configure", |store| {
            plugin
                .camus2kafka_plugin_output_format()
                .call_configure(store, &json)
        })?;
        configured.map_err(|e| loaded.error(None, format!("rejected its config {json}: {e}")))?;
        Ok(OutputFormat {
            loaded,
            plugin,
            batch: format_types::Batch {
                data: Vec::new(),
                ends: Vec::new(),
                schema_ids: Vec::new(),
            },
        })
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        let schema = format_types::Schema {
            id,
            json: json.to_string(),
        };
        let plugin = &self.plugin;
        let result = self.loaded.call("register-schema", |store| {
            plugin
                .camus2kafka_plugin_output_format()
                .call_register_schema(store, &schema)
        })?;
        result.map_err(|e| {
            self.loaded
                .error(None, format!("rejected schema {id}: {e}"))
                .into()
        })
    }

    /// One message per record; `source_partition` and the default timestamp are the host's to set.
    pub fn format(&mut self, batch: &PluginBatch) -> Result<Vec<OutMessage>, PluginError> {
        fill_batch!(self.batch, batch);
        let plugin = &self.plugin;
        let request = &self.batch;
        let result = self.loaded.call("format", |store| {
            plugin
                .camus2kafka_plugin_output_format()
                .call_format(store, request)
        })?;
        let messages = result.map_err(|e| self.loaded.error(Some(e.index), e.message))?;
        Ok(messages
            .into_iter()
            .map(|m| OutMessage {
                key: m.key,
                value: m.value,
                headers: m.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                timestamp_ms: m.timestamp_ms,
                source_partition: None,
            })
            .collect())
    }
}
