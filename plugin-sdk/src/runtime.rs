//! The per-batch loops around a plugin's per-record method, independent of WebAssembly (so that
//! they are tested natively and usable by a host that compiles a plugin in).

use crate::avro::Projection;
use crate::key::KeyWriter;
use crate::plugin::{parse_config, KeyExtractor, Message, OutputFormat};

/// A failure on record `index` of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub index: u32,
    pub message: String,
}

/// The keys of one batch: key `i` is `data[ends[i-1]..ends[i]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchKeys {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    /// Empty when no record had an event time, else one entry per record.
    pub timestamps_ms: Vec<Option<i64>>,
}

/// A batch as the contract lays it out: record `i` is `data[ends[i-1]..ends[i]]` in schema
/// `schema_ids[i]`.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    pub data: &'a [u8],
    pub ends: &'a [u32],
    pub schema_ids: &'a [u32],
}

/// The index of the record being processed, so that a panic can name it (see `guest`).
/// Per thread: natively, several workers may run extractors at once.
pub mod current {
    use std::cell::Cell;

    std::thread_local! {
        static INDEX: Cell<u32> = const { Cell::new(u32::MAX) };
    }

    pub fn set(index: u32) {
        INDEX.with(|i| i.set(index));
    }

    /// The record index being processed, if inside a batch.
    pub fn get() -> Option<u32> {
        match INDEX.with(Cell::get) {
            u32::MAX => None,
            i => Some(i),
        }
    }
}

/// Iterates the records of a batch, checking the layout once per record.
fn records<'a>(
    batch: BatchRef<'a>,
) -> impl Iterator<Item = (u32, Result<(u32, &'a [u8]), String>)> + 'a {
    let mut start = 0usize;
    batch.ends.iter().enumerate().map(move |(i, &end)| {
        let end = end as usize;
        let slice = if start <= end && end <= batch.data.len() {
            Ok(&batch.data[start..end])
        } else {
            Err(format!("record {i} ends at byte {end}, outside the batch"))
        };
        start = end;
        let id = batch
            .schema_ids
            .get(i)
            .copied()
            .ok_or_else(|| format!("record {i} has no schema id"));
        (i as u32, id.and_then(|id| slice.map(|s| (id, s))))
    })
}

/// A configured key extractor and its projection.
pub struct KeyRuntime<P: KeyExtractor> {
    plugin: P,
    projection: Projection,
}

impl<P: KeyExtractor> KeyRuntime<P> {
    /// Builds the plugin from its JSON configuration.
    pub fn configure(config: &str) -> Result<Self, String> {
        let plugin = P::new(parse_config(config)?)?;
        let projection = Projection::new(plugin.fields());
        Ok(KeyRuntime { plugin, projection })
    }

    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<(), String> {
        self.projection.register(id, json)
    }

    /// One key per record, written into one buffer.
    pub fn extract_keys(&self, batch: BatchRef<'_>) -> Result<BatchKeys, RecordError> {
        let n = batch.ends.len();
        let mut out = BatchKeys {
            data: Vec::with_capacity(n * 16),
            ends: Vec::with_capacity(n),
            timestamps_ms: Vec::with_capacity(n),
        };
        let mut any_time = false;
        for (index, record) in records(batch) {
            current::set(index);
            let fail = |message| RecordError { index, message };
            let (id, datum) = record.map_err(fail)?;
            let record = self.projection.record(id, datum).map_err(fail)?;
            let time = self
                .plugin
                .key(&record, &mut KeyWriter::new(&mut out.data))
                .map_err(fail)?;
            any_time |= time.is_some();
            out.ends.push(out.data.len() as u32);
            out.timestamps_ms.push(time);
        }
        current::set(u32::MAX);
        if !any_time {
            out.timestamps_ms.clear();
        }
        Ok(out)
    }
}

/// A configured output format and its projection.
pub struct FormatRuntime<P: OutputFormat> {
    plugin: P,
    projection: Projection,
}

impl<P: OutputFormat> FormatRuntime<P> {
    /// Builds the plugin from its JSON configuration.
    pub fn configure(config: &str) -> Result<Self, String> {
        let plugin = P::new(parse_config(config)?)?;
        let projection = Projection::new(plugin.fields());
        Ok(FormatRuntime { plugin, projection })
    }

    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<(), String> {
        self.projection.register(id, json)
    }

    /// One message per record, each converted by `convert` into the caller's message type
    /// (the guest's WIT record) as soon as it is made.
    pub fn format<M>(
        &self,
        batch: BatchRef<'_>,
        mut convert: impl FnMut(Message) -> M,
    ) -> Result<Vec<M>, RecordError> {
        let mut out = Vec::with_capacity(batch.ends.len());
        for (index, record) in records(batch) {
            current::set(index);
            let fail = |message| RecordError { index, message };
            let (id, datum) = record.map_err(fail)?;
            let record = self.projection.record(id, datum).map_err(fail)?;
            let mut message = Message {
                value: Vec::with_capacity(datum.len() + 8),
                ..Message::default()
            };
            self.plugin.format(&record, &mut message).map_err(fail)?;
            out.push(convert(message));
        }
        current::set(u32::MAX);
        Ok(out)
    }
}
