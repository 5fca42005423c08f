//! The WebAssembly plugin host on wasmtime's component model: loads key-extractor and
//! output-format components, grants them nothing, caps their memory and time.
//!
//! One engine serves every plugin of the process ([`engine`]); each plugin gets its own store
//! ([`sandbox`]), is instantiated once and configured once, learns each schema once, then is
//! called with batches. A failed call poisons the plugin: it is never called again. What the two
//! roles share — finding their exports, `configure`, `register-schema`, calling with borrowed
//! batches — is [`component`]; this module adds what differs: the result types.

mod bindings;
mod component;
pub(crate) mod contract;
mod engine;
pub(crate) mod native;
pub(crate) mod pool;
mod sandbox;
mod sandbox_call;
mod unflat;

pub(crate) use unflat::split_flat_answer_bytes;

use anyhow::Result;

use crate::config::PluginConfig;
use crate::record::OutMessage;
use bindings::format::camus2kafka::plugin::types as format_types;
use bindings::format::exports::camus2kafka::plugin::output_format as format_interface;
use bindings::key::camus2kafka::plugin::types as key_types;
use bindings::key::exports::camus2kafka::plugin::key_extractor as key_interface;
use component::{ComponentPlugin, RecordFailure, Role, KEY_INTERFACE};
use native::NativeKeyExtractor;

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

/// The host's handle on a key-extractor plugin, instantiated and configured: a WebAssembly
/// component, or one of the [`native`] extractors compiled into the host.
pub struct KeyPlugin(KeyBackend);

enum KeyBackend {
    Wasm(Box<ComponentPlugin>),
    Native(NativeKeyExtractor),
}

impl KeyPlugin {
    /// Loads the plugin (`config.plugin`: a bundled name, a `.wasm` path, or `native:<name>`)
    /// and configures it.
    pub fn load(config: &PluginConfig) -> Result<Self> {
        let backend = match native::native_name(&config.plugin) {
            Some(name) => KeyBackend::Native(NativeKeyExtractor::load(
                &config.plugin,
                name,
                &config.config.to_string(),
            )?),
            None => {
                let plugin = ComponentPlugin::load(config, &KEY_EXTRACTOR, None)?;
                plugin
                    .check_batch::<key_interface::Keys, key_types::RecordError>(&KEY_EXTRACTOR)?;
                KeyBackend::Wasm(Box::new(plugin))
            }
        };
        Ok(KeyPlugin(backend))
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        match &mut self.0 {
            KeyBackend::Wasm(wasm) => wasm.register_schema(id, json),
            KeyBackend::Native(native) => Ok(native.register_schema(id, json)?),
        }
    }

    /// The smallest key a record whose event time is `time_ms` or later can have, when the
    /// plugin says its keys order records by event time first (contract 0.1.2, `key-floor`);
    /// `None` otherwise.
    pub fn key_floor(&mut self, time_ms: i64) -> Result<Option<Vec<u8>>> {
        match &mut self.0 {
            KeyBackend::Wasm(wasm) => wasm.key_floor(time_ms),
            KeyBackend::Native(native) => Ok(native.key_floor(time_ms)),
        }
    }

    /// One key per record of the batch.
    pub fn extract_keys(&mut self, batch: &PluginBatch) -> Result<Keys, PluginError> {
        match &mut self.0 {
            KeyBackend::Wasm(wasm) => {
                let keys = wasm.call_batch::<key_interface::Keys, key_types::RecordError>(
                    "extract-keys",
                    batch,
                )?;
                Ok(Keys {
                    data: keys.data,
                    ends: keys.ends,
                    timestamps_ms: keys.timestamps_ms,
                })
            }
            KeyBackend::Native(native) => native.extract_keys(batch),
        }
    }
}

/// The interfaces of the two roles; a component exports them at its contract version
/// ([`contract`]).
const FORMAT_INTERFACE: &str = "camus2kafka:plugin/output-format";

const KEY_EXTRACTOR: Role = Role {
    name: "a key-extractor",
    interface: KEY_INTERFACE,
    batch_function: |_| "extract-keys",
};

impl RecordFailure for key_types::RecordError {
    fn into_parts(self) -> (u32, String) {
        (self.index, self.message)
    }
}

/// The host's handle on an output-format plugin, instantiated and configured.
pub struct FormatPlugin {
    plugin: ComponentPlugin,
    /// Whether it answers with `format-flat` (contract 0.1.1 on), decided once at load.
    flat: bool,
    /// How many schemas of a [`SchemaLog`] it has been told (see [`FormatPlugin::catch_up`]).
    caught_up: usize,
}

/// The schemas a streamed read announced so far, in order: the format side tells each instance
/// about the new ones before it formats a batch (a record is sent only after its schema is
/// logged).
pub(crate) type SchemaLog = std::sync::Mutex<Vec<(u32, String)>>;

/// The contract version that brought `format-flat`; components of 0.1.0 have `format` only.
const LIST_OF_MESSAGES: &str = "0.1.0";

const OUTPUT_FORMAT: Role = Role {
    name: "an output-format",
    interface: FORMAT_INTERFACE,
    batch_function: |version| match version {
        LIST_OF_MESSAGES => "format",
        _ => "format-flat",
    },
};

impl RecordFailure for format_types::RecordError {
    fn into_parts(self) -> (u32, String) {
        (self.index, self.message)
    }
}

impl FormatPlugin {
    /// Loads the plugin (`config.plugin`: a bundled name or a `.wasm` path) and configures it.
    pub fn load(config: &PluginConfig) -> Result<Self> {
        if native::native_name(&config.plugin).is_some() {
            anyhow::bail!(
                "format.plugin {}: `{}` plugins are key extractors (key.plugin) only",
                config.plugin,
                native::PREFIX
            );
        }
        FormatPlugin::load_as(config, None)
    }

    /// Loads the plugin to be called as a host of contract 0.1.0 calls it: `format`, answering
    /// one `list<message>`, even when it exports `format-flat`. For measuring the format boundary
    /// (`bench/`) and checking that a plugin's two exports agree; `c2k` never calls it so.
    pub fn load_list_of_messages(config: &PluginConfig) -> Result<Self> {
        FormatPlugin::load_as(config, Some(LIST_OF_MESSAGES))
    }

    fn load_as(config: &PluginConfig, version: Option<&'static str>) -> Result<Self> {
        let plugin = ComponentPlugin::load(config, &OUTPUT_FORMAT, version)?;
        let flat = plugin.version != LIST_OF_MESSAGES;
        if flat {
            plugin.check_batch::<format_interface::Messages, format_types::RecordError>(
                &OUTPUT_FORMAT,
            )?;
        } else {
            plugin.check_batch::<Vec<format_interface::Message>, format_types::RecordError>(
                &OUTPUT_FORMAT,
            )?;
        }
        Ok(FormatPlugin {
            plugin,
            flat,
            caught_up: 0,
        })
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        self.plugin.register_schema(id, json)
    }

    /// Tells the plugin about the schemas `log` holds that it has not been told yet.
    pub(crate) fn catch_up(&mut self, log: &SchemaLog) -> Result<()> {
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, json) in &log[self.caught_up.min(log.len())..] {
            self.plugin.register_schema(*id, json)?;
        }
        self.caught_up = log.len();
        Ok(())
    }

    /// One message per record; `source_partition` and the default timestamp are the host's to set.
    pub fn format(&mut self, batch: &PluginBatch) -> Result<Vec<OutMessage>, PluginError> {
        if !self.flat {
            let messages = self
                .plugin
                .call_batch::<Vec<format_interface::Message>, format_types::RecordError>(
                    "format", batch,
                )?;
            return Ok(messages.into_iter().map(unflat::from_record).collect());
        }
        let flat = self
            .plugin
            .call_batch::<format_interface::Messages, format_types::RecordError>(
                "format-flat",
                batch,
            )?;
        unflat::messages(flat, batch.ends.len()).map_err(|why| self.plugin.error(why))
    }
}
