//! The WebAssembly plugin host on wasmtime's component model (issue 2): loads key-extractor and
//! output-format components, grants them nothing, caps their memory and time.

use anyhow::{bail, Result};

use crate::pipeline::PluginConfig;
use crate::record::OutMessage;

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

pub struct KeyExtractor;

impl KeyExtractor {
    pub fn load(_config: &PluginConfig) -> Result<Self> {
        bail!("plugins are not implemented yet")
    }
    pub fn register_schema(&mut self, _id: u32, _json: &str) -> Result<()> {
        bail!("plugins are not implemented yet")
    }
    pub fn extract_keys(&mut self, _batch: &PluginBatch) -> Result<Keys, PluginError> {
        unimplemented!()
    }
}

pub struct OutputFormat;

impl OutputFormat {
    pub fn load(_config: &PluginConfig) -> Result<Self> {
        bail!("plugins are not implemented yet")
    }
    pub fn register_schema(&mut self, _id: u32, _json: &str) -> Result<()> {
        bail!("plugins are not implemented yet")
    }
    /// One message per record; `source_partition` and the default timestamp are the host's to set.
    pub fn format(&mut self, _batch: &PluginBatch) -> Result<Vec<OutMessage>, PluginError> {
        unimplemented!()
    }
}
